"""Which database errors mean 'unreachable, retry' (503 with Retry-After) and which are bugs."""

from __future__ import annotations

import psycopg
from sqlalchemy import exc as sa_exc

from controller.store.db import store_unavailable


def test_a_dropped_or_refused_connection_is_unavailability() -> None:
    # psycopg raises OperationalError for a refused connection and for a server shut down
    # under a query (AdminShutdown is a subclass); SQLAlchemy wraps both.
    refused = psycopg.OperationalError("connection refused")
    assert store_unavailable(sa_exc.OperationalError("SELECT 1", {}, refused))
    assert store_unavailable(sa_exc.InterfaceError("SELECT 1", {}, Exception("closed")))
    assert store_unavailable(sa_exc.DBAPIError("SELECT 1", {}, Exception("x"),
                                               connection_invalidated=True))
    assert store_unavailable(sa_exc.TimeoutError("QueuePool limit reached"))


def test_a_violated_constraint_or_other_error_is_no_unavailability() -> None:
    assert not store_unavailable(sa_exc.IntegrityError("INSERT", {}, Exception("dup")))
    assert not store_unavailable(sa_exc.ProgrammingError("SELEC", {}, Exception("syntax")))
    assert not store_unavailable(ValueError("not a database error"))
