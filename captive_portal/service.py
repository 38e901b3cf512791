"""The portal's operations: identify a client, log it in, account, reap, reconcile, disconnect.

Pages, the admin UI, the CLI and the background loops all call this one class (`portal_for`).
Gateway calls are blocking (SSH): call these methods from a thread, never the event loop.
Logs name sessions by id and hotspot, never by a citizen's IP, MAC or phone.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from captive_portal import otp as otp_codes
from captive_portal import vouchers as voucher_ops
from captive_portal.clock import aware, local_day_start, seconds_between, utcnow
from captive_portal.errors import PortalError
from captive_portal.gateways import (
    ADAPTERS,
    AllowedClient,
    Client,
    GatewayAdapter,
    GatewayError,
    Grant,
    normalise_ip,
)
from captive_portal.models import HotspotTraffic, LoginCount, OtpCode, PortalSession, Voucher
from captive_portal.privacy import load_salt, pseudonym
from captive_portal.ratelimit import RateLimiter
from captive_portal.sms import OutboxSender, SmsError, SmsSender, WebhookSender
from controller.context import Context
from controller.inventory import Hotspot
from controller.store import audit

log = logging.getLogger("simpul.portal")

METHODS = ("click_through", "voucher", "phone_otp")

# The login's hot path runs these prebuilt Core statements: no ORM unit of work, no statement
# construction per login (SQLAlchemy's compiled cache then serves them).
_S = PortalSession.__table__.c
_OPEN_SESSION_KEY = (
    select(_S.id, _S.client_mac, _S.expires_at)
    .where(_S.hotspot == bindparam("b_hotspot"), _S.client_ip == bindparam("b_ip"),
           _S.ended_at.is_(None))
    .order_by(_S.id.desc()).limit(1)
)
_USAGE_TODAY = select(_S.started_at, _S.ended_at, _S.expires_at, _S.bytes_up, _S.bytes_down).where(
    _S.client_hash == bindparam("b_client_hash"), _S.hotspot == bindparam("b_hotspot"),
    _S.started_at >= bindparam("b_start"))
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


@dataclass(frozen=True)
class ClientView:
    """Who is asking, as the gateway sees it."""

    hotspot: Hotspot
    client: Client


@dataclass(frozen=True)
class SessionView:
    id: int
    hotspot: str
    method: str
    client_ip: str | None
    client_mac: str | None
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    seconds_remaining: int
    bytes_up: int
    bytes_down: int
    bytes_remaining: int | None


@dataclass
class ReapReport:
    accounted: int = 0
    ended: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unreachable: list[str] = field(default_factory=list)
    purged: int = 0


@dataclass
class ReconcileReport:
    added: int = 0
    removed: int = 0
    unreachable: list[str] = field(default_factory=list)


def _view(row: PortalSession, now: datetime) -> SessionView:
    used = row.bytes_up + row.bytes_down
    return SessionView(
        id=row.id, hotspot=row.hotspot, method=row.method, client_ip=row.client_ip,
        client_mac=row.client_mac, started_at=aware(row.started_at),
        expires_at=aware(row.expires_at),
        ended_at=aware(row.ended_at) if row.ended_at else None, end_reason=row.end_reason,
        seconds_remaining=0 if row.ended_at else seconds_between(now, row.expires_at),
        bytes_up=row.bytes_up, bytes_down=row.bytes_down,
        bytes_remaining=None if row.quota_bytes is None else max(0, row.quota_bytes - used),
    )


class Portal:
    def __init__(self, ctx: Context, *, sms_sender: SmsSender | None = None,
                 gateway_factory: Callable[[Hotspot], GatewayAdapter] | None = None):
        self.ctx = ctx
        self.settings = ctx.settings
        self.store = ctx.store
        self.salt = load_salt(ctx.secrets, ctx.settings.data_dir)
        self.limiter = RateLimiter(ctx.settings.portal_login_rate_per_min, 60.0)
        self.sms = sms_sender or self._default_sms_sender()
        self._gateway_factory = gateway_factory
        self._gateways: dict[str, GatewayAdapter] = {}
        self._gateways_lock = threading.Lock()
        self._inventory_seen = ctx.inventory
        # SQLite: a login's lookups and insert are one critical section, so a double-tapped
        # login cannot open two sessions (the store's write lock starts at the first write).
        self._writes: AbstractContextManager[Any] = (
            threading.Lock() if self.store.url.startswith("sqlite") else nullcontext())

    # -- wiring ------------------------------------------------------------------------------
    def _default_sms_sender(self) -> SmsSender:
        settings = self.settings
        if settings.portal_sms_sender == "webhook":
            if not settings.portal_sms_webhook_url:
                raise ValueError("SIMPUL_PORTAL_SMS_WEBHOOK_URL must be set for the webhook sender")
            return WebhookSender(settings.portal_sms_webhook_url,
                                 self.ctx.secrets.get("portal_sms_webhook_token"))
        if settings.portal_sms_sender != "outbox":
            raise ValueError(f"SIMPUL_PORTAL_SMS_SENDER must be outbox or webhook, "
                             f"not {settings.portal_sms_sender!r}")
        return OutboxSender(settings.portal_sms_outbox
                            or settings.data_dir / "sms-outbox.jsonl")

    def gateway(self, hotspot_name: str) -> GatewayAdapter:
        with self._gateways_lock:
            if self._inventory_seen is not self.ctx.inventory:
                # Reloaded: a hotspot's gateway, address or credentials may have changed.
                for stale in self._gateways.values():
                    stale.close()
                self._gateways.clear()
                self._inventory_seen = self.ctx.inventory
            adapter = self._gateways.get(hotspot_name)
            if adapter is None:
                hotspot = self.ctx.inventory.hotspots[hotspot_name]
                if self._gateway_factory is not None:
                    adapter = self._gateway_factory(hotspot)
                else:
                    kind = ("memory" if self.settings.portal_gateway == "memory"
                            else hotspot.adapter)
                    device = self.ctx.inventory.devices[hotspot.gateway]
                    adapter = ADAPTERS[kind](hotspot, device, self.ctx.inventory,
                                             self.ctx.secrets)
                self._gateways[hotspot_name] = adapter
            return adapter

    def close(self) -> None:
        with self._gateways_lock:
            for adapter in self._gateways.values():
                adapter.close()
            self._gateways.clear()

    # -- who is asking -----------------------------------------------------------------------
    def hotspot_for(self, ip: str) -> Hotspot | None:
        try:
            hotspot = self.ctx.inventory.hotspot_for_ip(ip)
        except ValueError:
            return None
        if hotspot is None and self.settings.portal_demo_hotspot:
            hotspot = self.ctx.inventory.hotspots.get(self.settings.portal_demo_hotspot)
        return hotspot

    def identify(self, ip: str) -> ClientView:
        """The client's hotspot and MAC as its gateway sees them; PortalError if unknown."""
        hotspot = self.hotspot_for(ip)
        if hotspot is None:
            raise PortalError("not_on_hotspot", 403)
        address = normalise_ip(ip)
        demo_client = self.ctx.inventory.hotspot_for_ip(address) is None  # demo fallback
        if demo_client or (self.settings.portal_gateway == "memory"
                           and self._gateway_factory is None):
            # No gateway to ask: a stable, locally administered pseudo-MAC per address.
            digest = pseudonym(self.salt, "demo-mac", address)
            demo_mac = "02:" + ":".join(digest[i:i + 2] for i in range(0, 10, 2))
            return ClientView(hotspot, Client(address, demo_mac))
        try:
            mac = self.gateway(hotspot.name).mac_for_ip(address)
        except GatewayError as exc:
            log.warning("hotspot %s: cannot look up a client: %s", hotspot.name, exc)
            raise PortalError("gateway_error", 503) from None
        if mac is None:
            raise PortalError("no_mac", 403)
        return ClientView(hotspot, Client(address, mac))

    def open_session(self, session: Session, hotspot: str, ip: str) -> PortalSession | None:
        return session.scalar(
            select(PortalSession).where(PortalSession.hotspot == hotspot,
                                        PortalSession.client_ip == ip,
                                        PortalSession.ended_at.is_(None))
            .order_by(PortalSession.id.desc()).limit(1)
        )

    def _open_session_key(self, session: Session, hotspot: str, ip: str) -> Any:
        """(id, client_mac, expires_at) of the client's open session, or None (Core select)."""
        return session.execute(_OPEN_SESSION_KEY, {"b_hotspot": hotspot, "b_ip": ip}).first()

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
            row = self.open_session(session, hotspot.name, address)
            if row is None or aware(row.expires_at) <= now:
                return hotspot, None
            return hotspot, _view(row, now)

    def check_rate(self, ip: str, action: str) -> None:
        if not self.limiter.allow(f"{action}:{ip}"):
            raise PortalError("rate_limited", 429)

    # -- logins ------------------------------------------------------------------------------
    def login(self, ip: str, method: str, *, accepted_terms: bool = False,
              voucher_code: str = "", phone: str = "", code: str = "") -> SessionView:
        """Log a client in by `method`; the gateway lets it through. Raises PortalError."""
        hotspot_name = "unknown"
        try:
            self.check_rate(ip, "login")
            view = self.identify(ip)
            hotspot = view.hotspot
            hotspot_name = hotspot.name
            if method not in METHODS or method not in hotspot.login_modes:
                raise PortalError("mode_not_offered")
            return self._login(view, method, accepted_terms=accepted_terms,
                               voucher_code=voucher_code, phone=phone, code=code)
        except PortalError as exc:
            if hotspot_name != "unknown" and method in METHODS:
                self.count_login(hotspot_name, method, exc.code)
            raise

    def _login(self, view: ClientView, method: str, *, accepted_terms: bool, voucher_code: str,
               phone: str, code: str) -> SessionView:
        hotspot, client = view.hotspot, view.client
        now = utcnow()
        client_hash = pseudonym(self.salt, "mac", client.mac)
        phone_hash: str | None = None
        if method == "click_through" and not accepted_terms:
            raise PortalError("terms_not_accepted")
        if method == "phone_otp":
            e164 = otp_codes.normalise_phone(phone)
            if e164 is None:
                raise PortalError("phone_format")
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
                existing = self._open_session_key(session, hotspot.name, client.ip)
                row: PortalSession | None = None
                voucher_id: int | None = None
                started: SessionView | None = None
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
                        self._end(session, old, "replaced", now)
                    used_s, used_bytes = self._usage_today(session, hotspot, client_hash, now)
                    quota = hotspot.daily_quota
                    if (quota.time is not None and used_s >= quota.time) or \
                            (quota.bytes is not None and used_bytes >= quota.bytes):
                        raise PortalError("quota_exhausted", 403)
                    grant_s = hotspot.session_timeout
                    if method == "voucher":
                        voucher = voucher_ops.redeem_voucher(session, voucher_code, hotspot.name)
                        grant_s, voucher_id = voucher.duration_s, voucher.id
                    if quota.time is not None:
                        grant_s = min(grant_s, quota.time - used_s)
                    expires_at = now + timedelta(seconds=grant_s)
                    quota_bytes = None if quota.bytes is None else quota.bytes - used_bytes
                    result = session.execute(_INSERT_SESSION, {
                        "hotspot": hotspot.name, "method": method, "client_ip": client.ip,
                        "client_mac": client.mac, "client_hash": client_hash,
                        "phone_hash": phone_hash, "voucher_id": voucher_id, "started_at": now,
                        "last_activity_at": now, "expires_at": expires_at, "bytes_up": 0,
                        "bytes_down": 0, "counter_up": 0, "counter_down": 0,
                        "quota_bytes": quota_bytes})
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
                self._count(session, hotspot.name, method, "ok")
                session.commit()
            try:
                self.gateway(hotspot.name).allow([Grant(client, grant_s)])
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
                raise PortalError("gateway_error", 503) from None
            log.info("hotspot %s: session %s started (%s, %ss)", hotspot.name, session_id, method,
                     grant_s)
            return started if started is not None else _view(row, now)  # type: ignore[arg-type]

    def request_otp(self, ip: str, phone: str) -> None:
        """Send a one-time code to `phone` for a client of an OTP hotspot. Raises PortalError."""
        self.check_rate(ip, "otp")
        view = self.identify(ip)
        if "phone_otp" not in view.hotspot.login_modes:
            raise PortalError("mode_not_offered")
        e164 = otp_codes.normalise_phone(phone)
        if e164 is None:
            raise PortalError("phone_format")
        phone_hash = pseudonym(self.salt, "phone", e164)
        with self.store.session() as session:
            code = otp_codes.issue_code(
                session, salt=self.salt, hotspot=view.hotspot.name, phone_hash=phone_hash,
                ttl_s=self.settings.portal_otp_ttl_s,
                max_sends_per_hour=self.settings.portal_otp_max_sends_per_hour)
            minutes = max(1, self.settings.portal_otp_ttl_s // 60)
            text = (f"Kode WiFi {view.hotspot.branding.title}: {code} (berlaku {minutes} menit). "
                    f"Your WiFi code: {code}. Jangan berikan kode ini kepada siapa pun.")
            try:
                self.sms.send(e164, text)
            except SmsError as exc:
                log.warning("hotspot %s: one-time code not sent: %s", view.hotspot.name, exc)
                raise PortalError("sms_error", 503) from None

    def _usage_today(self, session: Session, hotspot: Hotspot, client_hash: str,
                     now: datetime) -> tuple[int, int]:
        site = self.ctx.inventory.sites.get(hotspot.site)
        start = local_day_start(now, site.timezone if site else "Asia/Jakarta")
        rows = session.execute(_USAGE_TODAY, {"b_client_hash": client_hash,
                                              "b_hotspot": hotspot.name, "b_start": start})
        used_s = used_bytes = 0
        for row in rows:
            end = min(aware(row.ended_at or now), aware(row.expires_at), now)
            used_s += seconds_between(row.started_at, end)
            used_bytes += row.bytes_up + row.bytes_down
        return used_s, used_bytes

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
        day = utcnow().strftime("%Y-%m-%d")
        session.execute(_COUNT_UPSERTS[session.get_bind().dialect.name], {
            "b_day": day, "b_hotspot": hotspot, "b_method": method, "b_result": result,
            "b_initial": max(0, delta), "b_delta": delta})

    # -- ending sessions ---------------------------------------------------------------------
    def _end(self, session: Session, row: PortalSession, reason: str,
             now: datetime) -> Client | None:
        """Mark a session ended and erase the client's address; return whom to revoke."""
        client = Client(row.client_ip, row.client_mac) if row.client_ip and row.client_mac \
            else None
        row.ended_at = now
        row.end_reason = reason
        row.client_ip = None
        row.client_mac = None
        log.info("hotspot %s: session %s ended (%s)", row.hotspot, row.id, reason)
        return client

    def disconnect(self, session_id: int, actor: str) -> bool:
        """An engineer ends a session now; False if it is not open. Audited."""
        now = utcnow()
        with self.store.session() as session:
            row = session.get(PortalSession, session_id)
            if row is None or row.ended_at is not None:
                return False
            hotspot = row.hotspot
            client = self._end(session, row, "engineer", now)
            audit.record(session, actor, "hotspot.disconnect", target=f"session:{session_id}",
                         result="ok", detail={"hotspot": hotspot})
        if client is not None:
            try:
                self.gateway(hotspot).revoke([client])
            except GatewayError as exc:
                log.warning("hotspot %s: revoke failed, the reconciler retries: %s", hotspot, exc)
        return True

    # -- accounting and reaping --------------------------------------------------------------
    def _owned(self, hotspot_name: str) -> bool:
        """Does this process's shard look after the hotspot (its site; a hotspot gone from the
        inventory goes by its own name)?"""
        shard = self.ctx.shard
        hotspot = self.ctx.inventory.hotspots.get(hotspot_name)
        return shard.owns(hotspot.site if hotspot is not None else hotspot_name)

    def account_and_reap(self) -> ReapReport:
        """Read each gateway's counters, then end sessions past timeout, quota or idle (of the
        hotspots this process's shard looks after)."""
        report = ReapReport()
        now = utcnow()
        with self.store.session() as session:
            hotspots = list(session.scalars(select(PortalSession.hotspot).where(
                PortalSession.ended_at.is_(None)).distinct()))
        for name in hotspots:
            if not self._owned(name):
                continue
            hotspot = self.ctx.inventory.hotspots.get(name)
            counters: dict[Client, AllowedClient] | None = None
            if hotspot is not None:
                try:
                    counters = {a.client: a for a in self.gateway(name).allowed()}
                except GatewayError as exc:
                    log.warning("hotspot %s: accounting skipped: %s", name, exc)
                    report.unreachable.append(name)
            revoke: list[Client] = []
            with self.store.session() as session:
                rows = list(session.scalars(select(PortalSession).where(
                    PortalSession.hotspot == name, PortalSession.ended_at.is_(None))))
                up_total = down_total = 0
                for row in rows:
                    key = Client(row.client_ip or "", row.client_mac or "")
                    seen = counters.get(key) if counters is not None else None
                    if seen is not None:
                        d_up = seen.bytes_up - row.counter_up
                        d_up = seen.bytes_up if d_up < 0 else d_up
                        d_down = seen.bytes_down - row.counter_down
                        d_down = seen.bytes_down if d_down < 0 else d_down
                        row.counter_up, row.counter_down = seen.bytes_up, seen.bytes_down
                        if d_up or d_down:
                            row.bytes_up += d_up
                            row.bytes_down += d_down
                            row.last_activity_at = now
                            up_total += d_up
                            down_total += d_down
                        report.accounted += 1
                    reason = None
                    if hotspot is None:
                        reason = "removed"
                    elif aware(row.expires_at) <= now:
                        reason = "timeout"
                    elif row.quota_bytes is not None and \
                            row.bytes_up + row.bytes_down >= row.quota_bytes:
                        reason = "quota"
                    elif seconds_between(row.last_activity_at, now) >= hotspot.idle_timeout:
                        reason = "idle"
                    if reason is not None:
                        client = self._end(session, row, reason, now)
                        report.ended[reason] += 1
                        if client is not None and counters is not None and client in counters:
                            revoke.append(client)
                if up_total or down_total:
                    traffic = session.get(HotspotTraffic, name)
                    if traffic is None:
                        session.add(HotspotTraffic(hotspot=name, bytes_up=up_total,
                                                   bytes_down=down_total))
                    else:
                        traffic.bytes_up = HotspotTraffic.bytes_up + up_total
                        traffic.bytes_down = HotspotTraffic.bytes_down + down_total
            if revoke and hotspot is not None:
                try:
                    self.gateway(name).revoke(revoke)
                except GatewayError as exc:
                    log.warning("hotspot %s: revoke failed, the reconciler retries: %s", name,
                                exc)
        if self.ctx.shard.index == 1:  # retention: one shard deletes, the first
            report.purged = self.purge_old_records(now)
        return report

    def purge_old_records(self, now: datetime | None = None) -> int:
        """Retention: delete ended sessions and spent codes older than the retention period."""
        now = now or utcnow()
        cutoff = now - timedelta(days=self.settings.portal_retention_days)
        with self.store.session() as session:
            gone = getattr(session.execute(delete(PortalSession).where(
                PortalSession.ended_at.is_not(None), PortalSession.ended_at < cutoff)),
                "rowcount", 0)
            session.execute(delete(OtpCode).where(OtpCode.expires_at < now - timedelta(days=1)))
            session.execute(delete(Voucher).where(Voucher.valid_until < cutoff))
        return int(gone or 0)

    # -- reconciling -------------------------------------------------------------------------
    def reconcile(self, only: str | None = None) -> ReconcileReport:
        """Make each gateway's allowed set equal the open sessions (add missing, drop extra)."""
        report = ReconcileReport()
        now = utcnow()
        for name in self.ctx.inventory.hotspots:
            if only is not None and name != only:
                continue
            if only is None and not self._owned(name):
                continue
            if only is None and not self._gateway_known(name):
                continue  # never reach out to a gateway that has never had a session
            try:
                gateway = self.gateway(name)
                # Read the gateway before the store: a login commits its session before it
                # adds the element, so an element seen here always has its session below.
                actual = {a.client for a in gateway.allowed()}
                with self.store.session() as session:
                    rows = list(session.scalars(select(PortalSession).where(
                        PortalSession.hotspot == name, PortalSession.ended_at.is_(None),
                        PortalSession.expires_at > utcnow())))
                    desired = {Client(r.client_ip, r.client_mac): r for r in rows
                               if r.client_ip and r.client_mac}
                    missing = [c for c in desired if c not in actual]
                    extra = [c for c in actual if c not in desired]
                    if missing:
                        gateway.allow([Grant(c, seconds_between(now, desired[c].expires_at))
                                       for c in missing])
                        for client in missing:
                            desired[client].counter_up = desired[client].counter_down = 0
                if extra:
                    gateway.revoke(extra)
            except GatewayError as exc:
                log.warning("hotspot %s: reconcile failed: %s", name, exc)
                report.unreachable.append(name)
                continue
            report.added += len(missing)
            report.removed += len(extra)
            if missing or extra:
                log.info("hotspot %s: reconciled gateway (+%d -%d)", name, len(missing),
                         len(extra))
        return report

    def _gateway_known(self, name: str) -> bool:
        if name in self._gateways:
            return True
        with self.store.session() as session:
            return session.scalar(select(PortalSession.id).where(
                PortalSession.hotspot == name).limit(1)) is not None

    # -- engineers' views --------------------------------------------------------------------
    def list_active_sessions(self, hotspot: str | None = None) -> list[SessionView]:
        now = utcnow()
        with self.store.session() as session:
            query = select(PortalSession).where(PortalSession.ended_at.is_(None))
            if hotspot is not None:
                query = query.where(PortalSession.hotspot == hotspot)
            return [_view(r, now) for r in session.scalars(query.order_by(PortalSession.id))]

    def session_counts(self) -> dict[str, int]:
        with self.store.session() as session:
            rows = session.execute(select(PortalSession.hotspot, func.count(PortalSession.id))
                                   .where(PortalSession.ended_at.is_(None))
                                   .group_by(PortalSession.hotspot)).all()
        return {name: int(count) for name, count in rows}

    def login_stats(self, days: int = 7) -> list[dict[str, Any]]:
        """Login attempts per day, hotspot, method and result over the last `days` days."""
        since = (utcnow() - timedelta(days=days)).strftime("%Y-%m-%d")
        with self.store.session() as session:
            rows = session.scalars(select(LoginCount).where(LoginCount.day >= since)
                                   .order_by(LoginCount.day, LoginCount.hotspot))
            return [{"day": r.day, "hotspot": r.hotspot, "method": r.method,
                     "result": r.result, "count": int(r.count)} for r in rows]

    def login_totals(self) -> dict[tuple[str, str, str], int]:
        with self.store.session() as session:
            rows = session.execute(select(LoginCount.hotspot, LoginCount.method,
                                          LoginCount.result, func.sum(LoginCount.count))
                                   .group_by(LoginCount.hotspot, LoginCount.method,
                                             LoginCount.result)).all()
        return {(h, m, r): int(c) for h, m, r, c in rows}

    def traffic_totals(self) -> dict[str, tuple[int, int]]:
        with self.store.session() as session:
            return {t.hotspot: (int(t.bytes_up), int(t.bytes_down))
                    for t in session.scalars(select(HotspotTraffic))}

    def create_voucher_batch(self, *, count: int, duration_s: int, uses: int = 1,
                             valid_days: int = 30, hotspot: str | None = None,
                             batch: str | None = None,
                             actor: str = "system") -> voucher_ops.VoucherBatch:
        """Create a batch of voucher codes (audited); raises VoucherError naming the field."""
        with self.store.session() as session:
            result = voucher_ops.create_voucher_batch(
                session, count=count, duration_s=duration_s, uses=uses, valid_days=valid_days,
                hotspot=hotspot, batch=batch, actor=actor,
                known_hotspots=set(self.ctx.inventory.hotspots))
            audit.record(session, actor, "hotspot.vouchers.create", target=f"batch:{result.batch}",
                         result="ok", detail={"count": count, "hotspot": hotspot,
                                              "duration_s": duration_s, "uses": uses})
        return result

    def voucher_sheet_html(self, batch: str) -> str:
        with self.store.session() as session:
            first = session.scalar(select(Voucher).where(Voucher.batch == batch).limit(1))
            title = "WiFi Publik"
            if first is not None and first.hotspot in self.ctx.inventory.hotspots:
                title = self.ctx.inventory.hotspots[first.hotspot].branding.title
            return voucher_ops.voucher_sheet_html(session, batch, title)


_PORTALS: dict[int, Portal] = {}
_PORTALS_LOCK = threading.Lock()


def portal_for(ctx: Context) -> Portal:
    """The one Portal of a running Context (created on first use)."""
    with _PORTALS_LOCK:
        portal = _PORTALS.get(id(ctx))
        if portal is None or portal.ctx is not ctx:
            portal = Portal(ctx)
            _PORTALS[id(ctx)] = portal
        return portal


def install_portal(portal: Portal) -> None:
    """Use this Portal for its Context (tests give it a fake gateway or SMS sender)."""
    with _PORTALS_LOCK:
        _PORTALS[id(portal.ctx)] = portal
