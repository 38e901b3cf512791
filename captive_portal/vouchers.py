"""Vouchers: batches engineers create and print; a citizen redeems a code for a session.

The functions work in a caller's store session; VoucherBatches is the portal's room for them.
"""

from __future__ import annotations

import html
import re
import secrets as _random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from captive_portal.clock import aware, utcnow
from captive_portal.errors import PortalError, Refusal
from captive_portal.i18n import duration_text
from controller.context import Context
from controller.store import audit
from controller.store.portal import Voucher

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed on phones
CODE_RE = re.compile(r"^[A-Z0-9]{4}-?[A-Z0-9]{4}$")
BATCH_RE = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
MAX_BATCH = 1000


class VoucherError(ValueError):
    """Bad batch parameters; the message names the field."""


@dataclass(frozen=True)
class VoucherBatch:
    batch: str
    hotspot: str | None
    codes: list[str]
    duration_s: int
    uses: int
    valid_until: datetime


def new_code() -> str:
    raw = "".join(_random.choice(ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_code(value: str) -> str | None:
    """What a citizen typed -> 'ABCD-EFGH', or None if it cannot be a code."""
    text = value.strip().upper().replace(" ", "")
    if not CODE_RE.match(text):
        return None
    text = text.replace("-", "")
    return f"{text[:4]}-{text[4:]}"


def create_voucher_batch(session: Session, *, count: int, duration_s: int, uses: int = 1,
                         valid_days: int = 30, hotspot: str | None = None,
                         batch: str | None = None, actor: str = "system",
                         known_hotspots: set[str] | None = None) -> VoucherBatch:
    """Create `count` codes, each good for `uses` sessions of `duration_s`, for `valid_days`."""
    if not 1 <= count <= MAX_BATCH:
        raise VoucherError(f"count: must be 1..{MAX_BATCH}, not {count}")
    if not 30 <= duration_s <= 30 * 86400:
        raise VoucherError(f"duration: must be 30 seconds..30 days, not {duration_s}s")
    if not 1 <= uses <= 1000:
        raise VoucherError(f"uses: must be 1..1000, not {uses}")
    if not 1 <= valid_days <= 366:
        raise VoucherError(f"valid_days: must be 1..366, not {valid_days}")
    if hotspot is not None and known_hotspots is not None and hotspot not in known_hotspots:
        raise VoucherError(f"hotspot: unknown hotspot {hotspot!r}")
    now = utcnow()
    # Two batches in the same second must not collide: add a random suffix.
    name = batch or now.strftime("B%Y%m%d-%H%M%S-") + "".join(_random.choice(ALPHABET)
                                                              for _ in range(4))
    if not BATCH_RE.match(name):
        raise VoucherError(f"batch: {name!r} must be 1-32 letters, digits, '.', '_' or '-'")
    if session.scalar(select(Voucher.id).where(Voucher.batch == name).limit(1)) is not None:
        raise VoucherError(f"batch: {name!r} already exists")
    valid_until = now + timedelta(days=valid_days)
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(new_code())
    taken = set(session.scalars(select(Voucher.code).where(Voucher.code.in_(codes))))
    while taken:
        codes -= taken
        while len(codes) < count:
            codes.add(new_code())
        taken = set(session.scalars(select(Voucher.code).where(Voucher.code.in_(codes))))
    ordered = sorted(codes)
    for code in ordered:
        session.add(Voucher(code=code, batch=name, hotspot=hotspot, duration_s=duration_s,
                            uses_total=uses, uses_left=uses, valid_until=valid_until,
                            created_by=actor, created_at=now))
    session.flush()
    return VoucherBatch(name, hotspot, ordered, duration_s, uses, valid_until)


def redeem_voucher(session: Session, typed: str, hotspot: str) -> Voucher:
    """Use one use of a voucher (atomically); raise PortalError with the reason it cannot."""
    code = normalise_code(typed)
    if code is None:
        raise PortalError(Refusal.VOUCHER_FORMAT)
    voucher = session.scalar(select(Voucher).where(Voucher.code == code))
    if voucher is None or (voucher.hotspot is not None and voucher.hotspot != hotspot):
        raise PortalError(Refusal.VOUCHER_UNKNOWN)
    if aware(voucher.valid_until) <= utcnow():
        raise PortalError(Refusal.VOUCHER_EXPIRED)
    used = session.execute(
        update(Voucher).where(Voucher.id == voucher.id, Voucher.uses_left > 0)
        .values(uses_left=Voucher.uses_left - 1)
    )
    if getattr(used, "rowcount", 0) != 1:
        raise PortalError(Refusal.VOUCHER_USED)
    return voucher


# What a citizen does with a cut-out voucher, Bahasa Indonesia first, English second.
SHEET_STEPS = (
    ("Sambungkan HP ke WiFi <b>{ssid}</b>.", "Join the WiFi <b>{ssid}</b>."),
    ("Halaman masuk terbuka sendiri (atau buka situs apa saja).",
     "The login page opens by itself (or open any website)."),
    ("Ketik kode di atas, centang persetujuan, tekan <i>Masuk dengan voucher</i>.",
     "Type the code above, tick the box, press <i>Log in with a voucher</i>."),
)


def voucher_sheet_html(session: Session, batch: str, title: str = "WiFi Publik",
                       ssids: tuple[str, ...] = (), toolbar: str = "") -> str:
    """A printable A4 sheet of a batch's codes (cut along the lines), self-contained HTML: each
    card carries the hotspot's SSID and three steps to connect. `toolbar` (trusted markup: the
    web UI's print button and way back) is shown on screen, never printed."""
    vouchers = list(session.scalars(select(Voucher).where(Voucher.batch == batch)
                                    .order_by(Voucher.code)))
    if not vouchers:
        raise VoucherError(f"batch: no voucher batch {batch!r}")
    ssid = " / ".join(html.escape(name) for name in ssids) or "WiFi Publik"
    steps = "".join(f"<li>{id_text.format(ssid=ssid)}<br><span class=en>"
                    f"{en_text.format(ssid=ssid)}</span></li>"
                    for id_text, en_text in SHEET_STEPS)
    cards = []
    for voucher in vouchers:
        length = (f"{duration_text(voucher.duration_s, 'id')} / "
                  f"{duration_text(voucher.duration_s, 'en')}")
        cards.append(
            '<div class="v"><div class="t">{t}</div><div class="c">{c}</div>'
            '<div class="d">WiFi (SSID): <b>{s}</b></div>'
            '<div class="d">Durasi / Duration: {d} · {u}x</div>'
            '<div class="d">Berlaku s.d. / Valid until: {until}</div>'
            '<ol>{steps}</ol></div>'.format(
                t=html.escape(title), c=html.escape(voucher.code), s=ssid, d=html.escape(length),
                u=voucher.uses_total, until=aware(voucher.valid_until).strftime("%Y-%m-%d"),
                steps=steps)
        )
    return (
        "<!doctype html><html lang=id><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>Voucher {html.escape(batch)}</title><style>"
        "@page{size:A4;margin:10mm}body{font-family:sans-serif;margin:0 auto;max-width:210mm}"
        ".g{display:grid;grid-template-columns:repeat(3,1fr);gap:0}"
        ".v{border:1px dashed #888;padding:3mm;text-align:center;page-break-inside:avoid}"
        ".t{font-size:10pt}.c{font:bold 18pt monospace;margin:2mm 0}.d{font-size:8pt}"
        ".v ol{font-size:7pt;text-align:left;margin:1.5mm 0 0;padding-left:4mm}.en{color:#333}"
        ".bar{display:flex;gap:1rem;align-items:center;padding:.5rem 0}"
        ".bar button{font-size:1rem;padding:.4rem 1rem}"
        "@media print{.bar{display:none}}"
        f"</style>{toolbar}<h1 style='font-size:12pt'>Voucher batch {html.escape(batch)}</h1>"
        f"<div class=g>{''.join(cards)}</div></html>"
    )


class VoucherBatches:
    """Engineers' voucher batches (web, API, CLI): each in its own transaction, audited."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def create_batch(self, *, count: int, duration_s: int, uses: int = 1, valid_days: int = 30,
                     hotspot: str | None = None, batch: str | None = None,
                     actor: str = "system") -> VoucherBatch:
        """Create a batch of voucher codes (audited); raises VoucherError naming the field."""
        with self.ctx.store.session() as session:
            result = create_voucher_batch(
                session, count=count, duration_s=duration_s, uses=uses, valid_days=valid_days,
                hotspot=hotspot, batch=batch, actor=actor,
                known_hotspots=set(self.ctx.inventory.hotspots))
            audit.record(session, actor, "hotspot.vouchers.create", target=f"batch:{result.batch}",
                         result="ok", detail={"count": count, "hotspot": hotspot,
                                              "duration_s": duration_s, "uses": uses})
        return result

    def sheet_html(self, batch: str, toolbar: str = "") -> str:
        """The batch's printable sheet, titled with its hotspot's branding and carrying its SSID
        (a batch for every hotspot: each voucher hotspot's); VoucherError if none."""
        hotspots = self.ctx.inventory.hotspots
        with self.ctx.store.session() as session:
            first = session.scalar(select(Voucher).where(Voucher.batch == batch).limit(1))
            title = "WiFi Publik"
            ssids = tuple(sorted({h.ssid for h in hotspots.values() if "voucher" in h.login_modes}))
            if first is not None and first.hotspot in hotspots:
                title = hotspots[first.hotspot].branding.title
                ssids = (hotspots[first.hotspot].ssid,)
            return voucher_sheet_html(session, batch, title, ssids, toolbar)
