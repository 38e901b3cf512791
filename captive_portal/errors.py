"""Why a citizen's request was refused: a code the pages turn into a clear message."""

from __future__ import annotations


class PortalError(Exception):
    """A refusal the citizen sees as a page; `code` keys the message in captive_portal/i18n.py."""

    def __init__(self, code: str, status: int = 400):
        super().__init__(code)
        self.code = code
        self.status = status
