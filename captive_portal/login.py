"""The citizen's side of a session: who is asking, click-through, voucher and phone OTP logins.

Gateway calls are blocking (SSH): call these methods from a thread, never the event loop.
Logs name sessions by id and hotspot, never by a citizen's IP, MAC or phone.
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, literal_column, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from captive_portal import otp as otp_codes
from captive_portal import sms_budget
from captive_portal import vouchers as voucher_ops
from captive_portal.clock import (
    aware,
    local_day_label,
    local_day_start,
    seconds_between,
    utcnow,
)
from captive_portal.errors import PortalError, Refusal
from captive_portal.gateways.base import (
    Client,
    GatewayError,
    Grant,
    normalise_ip,
    normalise_mac,
)
from captive_portal.gateways.pool import GatewayPool
from captive_portal.privacy import PeriodHasher, pseudonym
from captive_portal.sessions import SessionView, end_session, hotspot_timezone, session_view
from captive_portal.sms import SmsError, SmsSender
from controller.context import Context
from controller.inventory import Hotspot
from controller.ratelimit import RateLimiter
from controller.store.portal import LoginCount, PortalSession, Voucher

log = logging.getLogger("simpul.portal")

METHODS = ("click_through", "voucher", "phone_otp")

# The login's hot path runs these prebuilt Core statements: no ORM unit of work, no statement
# construction per login (SQLAlchemy's compiled cache then serves them). Each round trip to
# PostgreSQL costs the portal more CPU than the SQL itself, so a new citizen's login is one
# lookup (the client's open session and today's use, together) and one write.
_S = PortalSession.__table__.c
_LOOKUP_COLUMNS = (_S.id, _S.client_mac, _S.started_at, _S.ended_at, _S.expires_at, _S.bytes_up,
                   _S.bytes_down)
_OPEN_SESSION = (
    select(literal_column("1").label("open"), *_LOOKUP_COLUMNS)
    .where(_S.hotspot == bindparam("b_hotspot"), _S.client_ip == bindparam("b_ip"),
           _S.ended_at.is_(None))
    .order_by(_S.id.desc()).limit(1).subquery()
)
_USED_TODAY = select(literal_column("0").label("open"), *_LOOKUP_COLUMNS).where(
    _S.client_hash == bindparam("b_client_hash"), _S.hotspot == bindparam("b_hotspot"),
    _S.started_at >= bindparam("b_start"))
# Rows with open=1: the address's open session (at most one); open=0: the device's sessions
# started today.
_LOOKUP = union_all(select(_OPEN_SESSION), _USED_TODAY)
_INSERT_SESSION = insert(cast(Table, PortalSession.__table__))
_DELETE_SESSION = delete(cast(Table, PortalSession.__table__)).where(_S.id == bindparam("b_id"))
_V = Voucher.__table__.c
_RETURN_VOUCHER_USE = (update(cast(Table, Voucher.__table__)).where(_V.id == bindparam("b_id"))
                       .values(uses_left=_V.uses_left + 1))


def _count_upsert(insert_for: Any) -> Any:
    """INSERT .. ON CONFLICT DO UPDATE of a login counter (SQLite and PostgreSQL spell it alike)."""
    table = LoginCount.__table__
    return insert_for(table).values(
        day=bindparam("b_day"), hotspot=bindparam("b_hotspot"), method=bindparam("b_method"),
        result=bindparam("b_result"), count=bindparam("b_initial"),
    ).on_conflict_do_update(index_elements=["day", "hotspot", "method", "result"],
                            set_={"count": table.c.count + bindparam("b_delta")})


_COUNT_UPSERTS: dict[str, Any] = {"sqlite": _count_upsert(sqlite_insert),
                                  "postgresql": _count_upsert(pg_insert)}
_SESSION_FIELDS = ("hotspot", "method", "client_ip", "client_mac", "client_hash", "month_hash",
                   "phone_hash", "voucher_id", "started_at", "last_activity_at", "expires_at",
                   "bytes_up", "bytes_down", "counter_up", "counter_down", "quota_bytes")
# PostgreSQL: the session row and its login count in one statement (data-modifying CTEs), so
# still one commit; SQLite runs the two statements.
_INSERT_AND_COUNT = select(
    insert(cast(Table, PortalSession.__table__))
    .values({name: bindparam(name) for name in _SESSION_FIELDS})
    .returning(_S.id).cte("new_session").c.id
).add_cte(_COUNT_UPSERTS["postgresql"].cte("counted"))


@dataclass(frozen=True)
class ClientView:
    """Who is asking, as the gateway sees it."""

    hotspot: Hotspot
    client: Client


class Login:
    def __init__(self, ctx: Context, gateways: GatewayPool, salt: bytes, sms: SmsSender):
        self.ctx = ctx
        self.settings = ctx.settings
        self.store = ctx.store
        self.gateways = gateways
        self.salt = salt
        self.hasher = PeriodHasher(salt)
        self.sms = sms
        self.limiter = RateLimiter(ctx.settings.portal_login_rate_per_min, 60.0)
        # SQLite: a login's lookups and insert are one critical section, so a double-tapped
        # login cannot open two sessions (the store's write lock starts at the first write).
        self._writes: AbstractContextManager[Any] = (
            threading.Lock() if self.store.url.startswith("sqlite") else nullcontext())

    # -- who is asking -----------------------------------------------------------------------
    def hotspot_for(self, ip: str) -> Hotspot | None:
        try:
            hotspot = self.ctx.inventory.hotspot_for_ip(ip)
        except ValueError:
            return None
        if hotspot is None and self.settings.portal_demo_hotspot:
            hotspot = self.ctx.inventory.hotspots.get(self.settings.portal_demo_hotspot)
        return hotspot

    def identify(self, ip: str, nas_mac: str = "") -> ClientView:
        """The client's hotspot and MAC as its gateway sees them; PortalError if unknown.
        adapter radius: the MAC the NAS passed along (`nas_mac`); RADIUS binds the one-time
        credential to it and the NAS reports the real one, so a false MAC is refused there."""
        hotspot = self.hotspot_for(ip)
        if hotspot is None:
            raise PortalError(Refusal.NOT_ON_HOTSPOT, 403)
        address = normalise_ip(ip)
        if hotspot.adapter == "radius" and nas_mac:
            try:
                return ClientView(hotspot, Client(address, normalise_mac(nas_mac)))
            except ValueError:
                raise PortalError(Refusal.NO_MAC, 403) from None
        demo_client = self.ctx.inventory.hotspot_for_ip(address) is None  # demo fallback
        if demo_client or self.gateways.simulated:
            # No gateway to ask: a stable, locally administered pseudo-MAC per address.
            digest = pseudonym(self.salt, "demo-mac", address)
            demo_mac = "02:" + ":".join(digest[i:i + 2] for i in range(0, 10, 2))
            return ClientView(hotspot, Client(address, demo_mac))
        try:
            mac = self.gateways.get(hotspot.name).mac_for_ip(address)
        except GatewayError as exc:
            log.warning("hotspot %s: cannot look up a client: %s", hotspot.name, exc)
            raise PortalError(Refusal.GATEWAY_ERROR, 503, exc.retry_after_s) from None
        if mac is None:
            raise PortalError(Refusal.NO_MAC, 403)
        return ClientView(hotspot, Client(address, mac))

    def status_for_ip(self, ip: str) -> tuple[Hotspot | None, SessionView | None]:
        """The hotspot and open session of a client address (no gateway round trip)."""
        hotspot = self.hotspot_for(ip)
        if hotspot is None:
            return None, None
        try:
            address = normalise_ip(ip)
        except ValueError:
            return hotspot, None
        now = utcnow()
        with self.store.session() as session:
            row = session.scalar(
                select(PortalSession).where(PortalSession.hotspot == hotspot.name,
                                            PortalSession.client_ip == address,
                                            PortalSession.ended_at.is_(None))
                .order_by(PortalSession.id.desc()).limit(1))
            if row is None or aware(row.expires_at) <= now:
                return hotspot, None
            return hotspot, session_view(row, now)

    def device_hashes(self, hotspot: Hotspot, mac: str, now: datetime) -> tuple[str, str]:
        """The MAC under the key of the hotspot's day (the daily quota, SMS budgets) and of its
        month (the month's distinct devices): each links sessions within its period only."""
        day = local_day_label(now, hotspot_timezone(self.ctx, hotspot.name))
        return (self.hasher.pseudonym(f"day:{day}", "mac", mac),
                self.hasher.pseudonym(f"month:{day[:7]}", "mac", mac))

    def check_rate(self, ip: str, action: str) -> None:
        if not self.limiter.allow(f"{action}:{ip}"):
            raise PortalError(Refusal.RATE_LIMITED, 429)

    # -- logins ------------------------------------------------------------------------------
    def log_in(self, ip: str, method: str, *, accepted_terms: bool = False,
               voucher_code: str = "", phone: str = "", code: str = "",
               nas_mac: str = "") -> SessionView:
        """Log a client in by `method`; the gateway lets it through. Raises PortalError."""
        hotspot_name = "unknown"
        try:
            self.check_rate(ip, "login")
            view = self.identify(ip, nas_mac)
            hotspot = view.hotspot
            hotspot_name = hotspot.name
            if method not in METHODS or method not in hotspot.login_modes:
                raise PortalError(Refusal.MODE_NOT_OFFERED)
            return self._log_in(view, method, accepted_terms=accepted_terms,
                                voucher_code=voucher_code, phone=phone, code=code)
        except PortalError as exc:
            if hotspot_name != "unknown" and method in METHODS:
                self.count_login(hotspot_name, method, exc.code)
            raise

    def _log_in(self, view: ClientView, method: str, *, accepted_terms: bool, voucher_code: str,
                phone: str, code: str) -> SessionView:
        hotspot, client = view.hotspot, view.client
        now = utcnow()
        client_hash, month_hash = self.device_hashes(hotspot, client.mac, now)
        phone_hash: str | None = None
        if method == "click_through" and not accepted_terms:
            raise PortalError(Refusal.TERMS_NOT_ACCEPTED)
        if method == "phone_otp":
            e164 = otp_codes.normalise_phone(phone)
            if e164 is None:
                raise PortalError(Refusal.PHONE_FORMAT)
            phone_hash = pseudonym(self.salt, "phone", e164)
            failure: PortalError | None = None
            with self.store.session() as session:
                try:
                    otp_codes.verify_code(session, salt=self.salt, hotspot=hotspot.name,
                                          phone_hash=phone_hash, typed=code,
                                          max_attempts=self.settings.portal_otp_max_attempts)
                except PortalError as exc:
                    failure = exc  # keep the counted attempt: commit, then refuse
            if failure is not None:
                raise failure
        with self.store.session() as session:
            with self._writes:  # SQLite: lookups and insert in one critical section
                # One transaction per login, Core statements on the hot path (a new citizen):
                # find the open session, sum today's use, insert, count, commit once.
                day_start = local_day_start(now, hotspot_timezone(self.ctx, hotspot.name))
                rows = session.execute(_LOOKUP, {
                    "b_hotspot": hotspot.name, "b_ip": client.ip, "b_client_hash": client_hash,
                    "b_start": day_start}).all()
                existing = next((r for r in rows if r.open == 1), None)
                row: PortalSession | None = None
                voucher_id: int | None = None
                started: SessionView | None = None
                counted = False
                if existing is not None and existing.client_mac == client.mac \
                        and aware(existing.expires_at) > now:
                    row = session.get(PortalSession, existing.id)
                    assert row is not None
                    grant_s = seconds_between(now, row.expires_at)
                    row.counter_up = row.counter_down = 0
                    session_id = row.id
                else:
                    if existing is not None:
                        old = session.get(PortalSession, existing.id)
                        assert old is not None
                        end_session(session, old, "replaced", now)
                    # A replaced session of this device counts until now, as it ends now.
                    used_s, used_bytes = _usage([r for r in rows if r.open == 0], now)
                    quota = hotspot.daily_quota
                    if (quota.time is not None and used_s >= quota.time) or \
                            (quota.bytes is not None and used_bytes >= quota.bytes):
                        raise PortalError(Refusal.QUOTA_EXHAUSTED, 403)
                    grant_s = hotspot.session_timeout
                    if method == "voucher":
                        voucher = voucher_ops.redeem_voucher(session, voucher_code, hotspot.name)
                        grant_s, voucher_id = voucher.duration_s, voucher.id
                    if quota.time is not None:
                        grant_s = min(grant_s, quota.time - used_s)
                    expires_at = now + timedelta(seconds=grant_s)
                    quota_bytes = None if quota.bytes is None else quota.bytes - used_bytes
                    values = {
                        "hotspot": hotspot.name, "method": method, "client_ip": client.ip,
                        "client_mac": client.mac, "client_hash": client_hash,
                        "month_hash": month_hash, "phone_hash": phone_hash,
                        "voucher_id": voucher_id, "started_at": now, "last_activity_at": now,
                        "expires_at": expires_at, "bytes_up": 0, "bytes_down": 0,
                        "counter_up": 0, "counter_down": 0, "quota_bytes": quota_bytes}
                    if session.get_bind().dialect.name == "postgresql":
                        session_id = session.execute(_INSERT_AND_COUNT, {
                            **values, **self._count_values(hotspot.name, method, "ok")
                        }).scalar_one()
                        counted = True
                    else:
                        result = session.execute(_INSERT_SESSION, values)
                        session_id = int(result.inserted_primary_key[0])  # type: ignore[attr-defined]
                    started = SessionView(
                        id=session_id, hotspot=hotspot.name, method=method, client_ip=client.ip,
                        client_mac=client.mac, started_at=now, expires_at=expires_at,
                        ended_at=None, end_reason=None,
                        seconds_remaining=seconds_between(now, expires_at), bytes_up=0,
                        bytes_down=0, bytes_remaining=quota_bytes)
                # The store is the source of truth: commit first, so a reconciler running now sees
                # the session and never removes the element about to be added. The login is
                # counted in the same commit (and taken back if the gateway refuses).
                if not counted:
                    self._count(session, hotspot.name, method, "ok")
                session.commit()
            try:
                self.gateways.get(hotspot.name).allow([Grant(client, grant_s)])
            except GatewayError as exc:
                log.warning("hotspot %s: session %s not started: %s", hotspot.name, session_id,
                            exc)
                # `_writes` first, then the store's write lock (as on the login path): the other
                # order could hold up a concurrent login until the store's lock timeout.
                with self._writes:
                    if row is None:  # the session this login created: take it back
                        if voucher_id is not None:
                            session.execute(_RETURN_VOUCHER_USE, {"b_id": voucher_id})
                        session.execute(_DELETE_SESSION, {"b_id": session_id})
                    self._count(session, hotspot.name, method, "ok", -1)
                    session.commit()
                raise PortalError(Refusal.GATEWAY_ERROR, 503, exc.retry_after_s) from None
            log.info("hotspot %s: session %s started (%s, %ss)", hotspot.name, session_id, method,
                     grant_s)
            if started is None:
                assert row is not None  # an existing session was extended
                started = session_view(row, now)
            return started

    def request_otp(self, ip: str, phone: str) -> None:
        """Send a one-time code to `phone` for a client of an OTP hotspot, within the phone's
        limit and the device's, hotspot's and portal's SMS budgets. Raises PortalError."""
        self.check_rate(ip, "otp")
        view = self.identify(ip)
        hotspot = view.hotspot
        if "phone_otp" not in hotspot.login_modes:
            raise PortalError(Refusal.MODE_NOT_OFFERED)
        e164 = otp_codes.normalise_phone(phone)
        if e164 is None:
            raise PortalError(Refusal.PHONE_FORMAT)
        phone_hash = pseudonym(self.salt, "phone", e164)
        now = utcnow()
        device_hash, _ = self.device_hashes(hotspot, view.client.mac, now)
        budgets = sms_budget.budgets(self.settings, device_hash=device_hash,
                                     hotspot=hotspot.name,
                                     timezone=hotspot_timezone(self.ctx, hotspot.name), now=now)
        with self.store.session() as session:
            code = otp_codes.issue_code(
                session, salt=self.salt, hotspot=hotspot.name, phone_hash=phone_hash,
                ttl_s=self.settings.portal_otp_ttl_s,
                max_sends_per_hour=self.settings.portal_otp_max_sends_per_hour,
                resend_after_s=self.settings.portal_otp_resend_after_s)
            sms_budget.spend(session, budgets, hotspot.name)  # refused: nothing counted
            minutes = max(1, self.settings.portal_otp_ttl_s // 60)
            text = (f"Kode WiFi {hotspot.branding.title}: {code} (berlaku {minutes} menit). "
                    f"Your WiFi code: {code}. Jangan berikan kode ini kepada siapa pun.")
            try:
                self.sms.send(e164, text)
            except SmsError as exc:
                log.warning("hotspot %s: one-time code not sent: %s", hotspot.name, exc)
                raise PortalError(Refusal.SMS_ERROR, 503) from None

    def resend_wait_s(self, phone: str) -> int:
        """Seconds until `phone` may ask for another code (0: now, or not a valid number)."""
        e164 = otp_codes.normalise_phone(phone)
        if e164 is None:
            return 0
        with self.store.session() as session:
            return otp_codes.resend_wait_s(
                session, phone_hash=pseudonym(self.salt, "phone", e164),
                resend_after_s=self.settings.portal_otp_resend_after_s)

    # -- login counters ----------------------------------------------------------------------
    def count_login(self, hotspot: str, method: str, result: str) -> None:
        for _ in range(3):
            try:
                with self._writes, self.store.session() as session:
                    self._count(session, hotspot, method, result)
                return
            except IntegrityError:
                continue

    def _count(self, session: Session, hotspot: str, method: str, result: str,
               delta: int = 1) -> None:
        """Add `delta` to a login counter: one upsert statement (SQLite and PostgreSQL)."""
        session.execute(_COUNT_UPSERTS[session.get_bind().dialect.name],
                        self._count_values(hotspot, method, result, delta))

    @staticmethod
    def _count_values(hotspot: str, method: str, result: str, delta: int = 1) -> dict[str, Any]:
        return {"b_day": utcnow().strftime("%Y-%m-%d"), "b_hotspot": hotspot,
                "b_method": method, "b_result": result, "b_initial": max(0, delta),
                "b_delta": delta}


def _usage(rows: list[Any], now: datetime) -> tuple[int, int]:
    """Seconds and bytes a device used in the sessions it started today (open ones until now)."""
    used_s = used_bytes = 0
    for row in rows:
        end = min(aware(row.ended_at or now), aware(row.expires_at), now)
        used_s += seconds_between(row.started_at, end)
        used_bytes += row.bytes_up + row.bytes_down
    return used_s, used_bytes
