"""Tokens in the portal's forms, against cross-site requests (another site making a citizen's
browser ask for SMS codes): an HMAC of the client's address and the time the form was served.

No cookie and no script: captive sheets may drop cookies, and portal pages run no script. A
page of another site cannot read the token; a client can only get one for its own address.
Seals sign what the portal keeps in a cookie (a NAS's redirect) the same way.
"""

from __future__ import annotations

import hmac
import time

from captive_portal.privacy import period_key, pseudonym

TTL_S = 2 * 3600  # a form left open this long must be reloaded
_FUTURE_SLACK_S = 60  # several portal processes' clocks may differ a little


def issue(salt: bytes, client_ip: str, now: float | None = None) -> str:
    stamp = int(time.time() if now is None else now)
    return f"{stamp}.{_mac(salt, client_ip, stamp)}"


def valid(salt: bytes, client_ip: str, token: str, now: float | None = None) -> bool:
    stamp_text, _, given = token.partition(".")
    if not (token.isascii() and stamp_text.isdigit() and len(stamp_text) <= 12):
        return False
    stamp = int(stamp_text)
    age = (time.time() if now is None else now) - stamp
    if not -_FUTURE_SLACK_S <= age <= TTL_S:
        return False
    return hmac.compare_digest(given, _mac(salt, client_ip, stamp))


def _mac(salt: bytes, client_ip: str, stamp: int) -> str:
    return pseudonym(period_key(salt, "form-token"), "form", f"{client_ip}|{stamp}")[:32]


# A value the portal keeps in the browser between two requests (the NAS's redirect: the
# client's MAC and its login URL) comes back signed for the client's address, or not at all:
# a citizen who edits it, or another client who copies it, gets nothing.
SEAL_TTL_S = 600  # the cookie's own max-age


def seal(salt: bytes, kind: str, client_ip: str, value: str, now: float | None = None) -> str:
    stamp = int(time.time() if now is None else now)
    return f"{value}~{stamp}~{_seal_mac(salt, kind, client_ip, value, stamp)}"


def unseal(salt: bytes, kind: str, client_ip: str, sealed: str,
           now: float | None = None) -> str | None:
    """The value if its signature is this portal's, for this kind and this client, and fresh."""
    head, _, given = sealed.rpartition("~")
    value, _, stamp_text = head.rpartition("~")
    if not (sealed.isascii() and stamp_text.isdigit() and len(stamp_text) <= 12 and value):
        return None
    stamp = int(stamp_text)
    age = (time.time() if now is None else now) - stamp
    if not -_FUTURE_SLACK_S <= age <= SEAL_TTL_S:
        return None
    if not hmac.compare_digest(given, _seal_mac(salt, kind, client_ip, value, stamp)):
        return None
    return value


def _seal_mac(salt: bytes, kind: str, client_ip: str, value: str, stamp: int) -> str:
    return pseudonym(period_key(salt, "portal-cookie"), kind,
                     f"{client_ip}|{stamp}|{value}")[:32]
