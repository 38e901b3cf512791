"""Tokens in the portal's forms, against cross-site requests (another site making a citizen's
browser ask for SMS codes): an HMAC of the client's address and the time the form was served.

No cookie and no script: captive sheets may drop cookies, and portal pages run no script. A
page of another site cannot read the token; a client can only get one for its own address.
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
