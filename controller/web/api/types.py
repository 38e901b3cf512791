"""Types shared by the API's models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time Simpul stores is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]

Responses = dict[int | str, dict[str, Any]]
AUTH_ERRORS: Responses = {
    401: {"description": "Not authenticated: log in, or send a Bearer API token"},
    403: {"description": "Role too low, or a cookie-authenticated change without X-CSRF-Token"},
}

# A store row id in a path: anything else is a 422, never a database overflow.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
