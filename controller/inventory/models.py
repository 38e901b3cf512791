"""The inventory's items as pydantic models: sites (with their allocation schedules), devices,
links, hotspots and profiles, each field parsed from the units engineers write; and the
Inventory that holds them."""

from __future__ import annotations

import datetime
import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from controller.inventory.yaml_lines import Location
from controller.secrets import SECRET_NAME_RE
from controller.units import Allocation, parse_bytes, parse_duration_s, parse_rate_bps

SiteKind = Literal["noc", "sopd", "kecamatan", "kelurahan", "desa", "hotspot"]
Timezone = Literal["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]
Platform = Literal["mikrotik_routeros", "cisco_ios", "linux"]
Medium = Literal["fiber", "wireless", "vpn", "isp"]
Adapter = Literal["nftables", "mikrotik", "radius"]
LoginMode = Literal["click_through", "voucher", "phone_otp"]

# The gateway platform each SSH adapter drives; `radius` works with any NAS (the gateway asks
# FreeRADIUS, which asks Simpul), so it has no entry here.
ADAPTER_PLATFORM: dict[str, str] = {"nftables": "linux", "mikrotik": "mikrotik_routeros"}

AllocationField = Annotated[Allocation, BeforeValidator(Allocation.parse)]
DurationS = Annotated[int, BeforeValidator(parse_duration_s)]
Bytes = Annotated[int, BeforeValidator(parse_bytes)]
RateBps = Annotated[int, BeforeValidator(parse_rate_bps)]
Name = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _dns_name(value: Any) -> str:
    """A fully qualified DNS name (RFC 1123 labels, at least two, a letter in the top one);
    never under `.local`, which RFC 6762 reserves for multicast DNS: Apple devices resolve it
    by mDNS only, so a hotspot named there is never found (MikroTik's hotspot manual asks for
    a full domain name in dns-name)."""
    if not isinstance(value, str):
        raise ValueError("a DNS name must be text")
    name = value.strip().rstrip(".").lower()
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_DNS_LABEL.match(x) for x in labels) \
            or not re.search(r"[a-z]", labels[-1]):
        raise ValueError(f"{value!r} is not a DNS name such as wifi-taman.example.go.id")
    if labels[-1] == "local":
        raise ValueError(f"{value!r} is under .local, which phones resolve by multicast DNS "
                         "only (RFC 6762): use a name in the regency's own domain")
    return name


DnsName = Annotated[str, BeforeValidator(_dns_name)]


# Characters no inventory text may hold: control characters (newlines among them), format
# characters (bidi overrides, zero-width), line/paragraph separators and surrogates.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}
_CHAR_NAMES = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab"}


def refused_char(text: str, allow: str = "") -> str | None:
    """The first character of `text` inventory text may not hold, described, or None."""
    for ch in text:
        if ch not in allow and unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return _CHAR_NAMES.get(ch, f"control character U+{ord(ch):04X}")
    return None


def _text_problem(value: Any, allow: str, where: tuple[Any, ...] = ()
                  ) -> tuple[str, tuple[Any, ...]] | None:
    """(what, path inside value) of the first refused character in any string of `value`."""
    if isinstance(value, str):
        what = refused_char(value, allow)
        return (what, where) if what else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _text_problem(key, "", where + (key,)) or _text_problem(
                item, allow, where + (key,))
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _text_problem(item, allow, where + (index,))
            if found:
                return found
    return None


class _Model(BaseModel):
    """Every string field, and every string inside a `vars` mapping, is plain one-line text:
    inventory text is never allowed to become a device command (see templates/)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    # Fields that may hold several lines (prose shown on the portal, never on a device).
    multiline_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text(cls, value: Any, info: ValidationInfo) -> Any:
        allow = "\n" if info.field_name in cls.multiline_fields else ""
        found = _text_problem(value, allow)
        if found:
            what, where = found
            raise PydanticCustomError(
                "inventory_text", "{what} is not allowed in inventory text",
                {"what": what, "where": where})
        return value


class Contact(_Model):
    name: str
    phone: str | None = None
    email: str | None = None


def _parse_rupiah(value: object) -> int:
    """95000000, '95.000.000' or 'Rp 95.000.000' -> 95000000 (whole rupiah, never negative)."""
    if isinstance(value, bool):
        raise ValueError("an amount in rupiah is a whole number, like 95000000")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip().removeprefix("Rp").strip().replace(".", "").replace("_", "")
        if not text.isdigit():
            raise ValueError(f"bad amount {value!r}: whole rupiah, like 95000000 or "
                             "'Rp 95.000.000' (no decimals)")
        number = int(text)
    if number < 0:
        raise ValueError(f"bad amount {value!r}: it may not be negative")
    return number


def _parse_percent(value: object) -> float:
    """'99.5%' or 99.5 -> 99.5 (a percentage from 0 to 100)."""
    text = str(value).strip().removesuffix("%").strip()
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"bad percentage {value!r}: write it like 99.5%") from None
    if not 0 <= number <= 100:
        raise ValueError(f"bad percentage {value!r}: between 0% and 100%")
    return number


Rupiah = Annotated[int, BeforeValidator(_parse_rupiah)]
Percent = Annotated[float, BeforeValidator(_parse_percent)]


# --------------------------------------------------------------------------- allocation schedules

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOLIDAY = "holiday"
TZ_OFFSET_MIN: dict[str, int] = {"Asia/Jakarta": 420, "Asia/Makassar": 480, "Asia/Jayapura": 540}
TZ_ABBREV: dict[str, str] = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA",
                             "Asia/Jayapura": "WIT"}
_TIME_RANGE_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _parse_days(value: object) -> tuple[str, ...]:
    """['mon-fri', 'holiday'] or 'sat,sun' -> ('mon', ..., 'fri', 'holiday'), in order."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError("days must be a list like [mon, tue] or 'mon-fri' or [holiday]")
    days: list[str] = []
    for raw in items:
        text = str(raw).strip().lower()
        first, _, last = text.partition("-")
        if text == HOLIDAY:
            chosen = [HOLIDAY]
        elif first in DAYS and (not last or last in DAYS):
            i, j = DAYS.index(first), DAYS.index(last or first)
            if j < i:
                raise ValueError(f"bad day range {raw!r}: write it Monday first, like mon-fri")
            chosen = list(DAYS[i:j + 1])
        else:
            raise ValueError(f"bad day {raw!r} (expected mon..sun, a range like mon-fri, "
                             "or holiday)")
        for day in chosen:
            if day in days:
                raise ValueError(f"day {day!r} is listed twice")
            days.append(day)
    return tuple(days)


def _parse_time_range(text: object) -> tuple[int, int]:
    """'07:30-16:00' -> (450, 960) minutes after local midnight; the end may be 24:00."""
    match = _TIME_RANGE_RE.match(str(text))
    if not match:
        raise ValueError(f"bad time range {text!r}: write it like 07:30-16:00 (24-hour, "
                         "local time; split a range that crosses midnight in two)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= 1440 or end > 1440:
        raise ValueError(f"bad time range {text!r}: times run from 00:00 to 24:00")
    if end <= start:
        raise ValueError(f"bad time range {text!r}: the end must come after the start "
                         "(split a range that crosses midnight in two)")
    return start, end


def _parse_time_ranges(value: object) -> tuple[tuple[int, int], ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValueError("times must be a list like ['07:30-16:00']")
    return tuple(_parse_time_range(item) for item in items)


@dataclass(frozen=True)
class WindowAllocation:
    """A window's allocation: fixed ('10M/5M') or a share of the site's own ('30%')."""

    fixed: Allocation | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, value: object) -> WindowAllocation:
        if isinstance(value, WindowAllocation):
            return value
        text = str(value).strip()
        if text.endswith("%"):
            try:
                percent = float(text[:-1])
            except ValueError:
                raise ValueError(f"bad share {value!r}: write it like 30%") from None
            if not 0 < percent <= 1000:
                raise ValueError(f"bad share {value!r}: between 0% and 1000%")
            return cls(percent=percent)
        return cls(fixed=Allocation.parse(value))

    def resolve(self, base: Allocation) -> Allocation:
        if self.fixed is not None:
            return self.fixed
        share = (self.percent or 100.0) / 100.0
        return Allocation(max(1, round(base.down_bps * share)), max(1, round(base.up_bps * share)))

    def __str__(self) -> str:
        return str(self.fixed) if self.fixed is not None else f"{self.percent:g}%"


def minute_label(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


class ScheduleWindow(_Model):
    """Days and local time ranges during which a site gets a different allocation."""

    name: Name
    days: Annotated[tuple[str, ...], BeforeValidator(_parse_days)]
    times: Annotated[tuple[tuple[int, int], ...], BeforeValidator(_parse_time_ranges)] = (
        (0, 1440),)
    allocation: Annotated[WindowAllocation, BeforeValidator(WindowAllocation.parse)]

    def covers(self, day: str, minute: int) -> bool:
        return day in self.days and any(a <= minute < b for a, b in self.times)

    def time_labels(self) -> list[str]:
        return [f"{minute_label(a)}-{minute_label(b)}" for a, b in self.times]


class Holiday(_Model):
    """A named public holiday: sites with a `holiday` window use it on this date."""

    name: str = Field(min_length=1)
    date: datetime.date


class Site(_Model):
    code: Name
    name: str = Field(min_length=1)
    kind: SiteKind
    address: str
    lat: float = Field(ge=-11.5, le=6.5, description="Indonesia spans about 6N to 11S")
    lon: float = Field(ge=94.0, le=141.5)
    timezone: Timezone
    contact: Contact
    allocation: AllocationField
    parent: str | None = Field(None, description="Code of the kecamatan a desa belongs to")
    group: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    schedule: list[ScheduleWindow] = Field(
        default_factory=list, description="Allocations by local time window (office hours, ...)")
    cost_before_idr: Rupiah | None = Field(
        None, description="What the office paid per month for its own internet before "
        "centralising (IDR, whole rupiah); savings are counted against it")
    protected: StrictBool = Field(
        False, description="A site that must not go dark (a hospital, the disaster agency): "
        "a push to its devices needs a second operator's approval (four eyes)")
    floor: AllocationField | None = Field(
        None, description="The least the site may have in any schedule window; a "
        "recommendation never goes below it (defaults.sites gives one per site kind)")

    def window_at(self, day: str, minute: int, holiday: bool = False) -> ScheduleWindow | None:
        """The schedule window in force at a local day ('mon'..'sun') and minute, or None.

        On a holiday, a site whose schedule has `holiday` windows uses only those.
        """
        if holiday and any(HOLIDAY in w.days for w in self.schedule):
            day = HOLIDAY
        for window in self.schedule:
            if window.covers(day, minute):
                return window
        return None

    def allocation_during(self, window: ScheduleWindow | None) -> Allocation:
        """The one allocation rule: a window's (a share of the site's own, or fixed), or with
        no window the site's own."""
        return window.allocation.resolve(self.allocation) if window else self.allocation

    def allocation_at_local(self, day: str, minute: int, holiday: bool = False) -> Allocation:
        return self.allocation_during(self.window_at(day, minute, holiday))

    def below_floor(self, allocation: Allocation | None = None
                    ) -> list[tuple[ScheduleWindow | None, Allocation]]:
        """The windows (None: the site's own allocation) that would give less than the floor
        in either direction, had the site `allocation` (by default its own), with what they give."""
        if self.floor is None:
            return []
        own = allocation or self.allocation
        found: list[tuple[ScheduleWindow | None, Allocation]] = []
        for window in [None, *self.schedule]:
            given = window.allocation.resolve(own) if window else own
            if given.down_bps < self.floor.down_bps or given.up_bps < self.floor.up_bps:
                found.append((window, given))
        return found


# --------------------------------------------------------------------------- money and SLA




class CreditBand(_Model):
    """Availability below `below` earns `credit` (a share of the month's fee)."""

    below: Percent
    credit: Percent


class PriceChange(_Model):
    """A contract's monthly price from a month on; the months before keep the earlier price
    (a closed month's costs never change with a new price)."""

    effective_from: str = Field(pattern=r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$",
                                description="The first month at this price, YYYY-MM")
    monthly_price_idr: Rupiah


class Contract(_Model):
    """An ISP contract: the uplink it feeds, what it commits and costs, and its SLA."""

    name: Name
    provider: str = Field(min_length=1)
    link: str = Field(min_length=1, description="Name of the isp link the contract feeds")
    capacity: AllocationField
    monthly_price_idr: Rupiah = Field(description="The price before any price_changes")
    price_changes: list[PriceChange] = Field(default_factory=list)
    sla: Percent = Field(description="Availability target per month, like 99.5%")
    credits: list[CreditBand] = Field(default_factory=list)
    group: str | None = None

    def price_for(self, month: str) -> int:
        """The monthly price in force in a YYYY-MM month: the latest change from it or
        before, else `monthly_price_idr`."""
        found = [c for c in self.price_changes if c.effective_from <= month]
        return max(found, key=lambda c: c.effective_from).monthly_price_idr if found else (
            self.monthly_price_idr)

    def credit_percent(self, availability_pct: float) -> float:
        """The credit band an availability falls in (the lowest `below` it is under wins)."""
        bands = [b for b in self.credits if availability_pct < b.below]
        return max((b.credit for b in bands), default=0.0)


def _parse_local_datetime(value: object) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value
    try:
        return datetime.datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"bad time {value!r}: write it like 2026-10-18 01:00 (local time "
                         "in the window's timezone)") from None


LocalDateTime = Annotated[datetime.datetime, BeforeValidator(_parse_local_datetime)]


class Maintenance(_Model):
    """A planned maintenance window: excluded from the availability of the links and sites
    it names."""

    name: Name
    start: LocalDateTime
    end: LocalDateTime
    timezone: Timezone = "Asia/Jakarta"
    links: list[str] = Field(default_factory=list)
    sites: list[str] = Field(default_factory=list)
    group: str | None = None

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: datetime.datetime, info: ValidationInfo) -> datetime.datetime:
        start = info.data.get("start")
        if start is not None and end <= start:
            raise ValueError("the end must come after the start")
        return end

    def span_ts(self) -> tuple[float, float]:
        """[start, end) as Unix seconds (naive times are read in the window's zone)."""
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(self.timezone)
        start, end = (t if t.tzinfo else t.replace(tzinfo=zone) for t in (self.start, self.end))
        return start.timestamp(), end.timestamp()


class Device(_Model):
    name: Name
    site: str
    platform: Platform
    role: Name  # names the template file: templates/<platform>/<role>.j2
    mgmt_address: ipaddress.IPv4Address | ipaddress.IPv6Address
    mgmt_port: int = Field(22, ge=1, le=65535)
    credentials: str
    snmp: str | None = None
    snmp_port: int = Field(161, ge=1, le=65535)
    group: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)


class LinkEnd(_Model):
    device: str | None = None
    interface: str | None = None
    provider: str | None = Field(None, description="ISP name, for the far end of an isp link")

    def label(self) -> str:
        return self.provider if self.provider else f"{self.device}:{self.interface}"


class Link(_Model):
    name: str | None = None
    a: LinkEnd
    b: LinkEnd
    capacity: AllocationField
    medium: Medium
    group: str | None = None

    @property
    def label(self) -> str:
        return self.name or f"{self.a.label()}--{self.b.label()}"


class DailyQuota(_Model):
    time: DurationS | None = None
    bytes: Bytes | None = None


class Branding(_Model):
    multiline_fields: ClassVar[frozenset[str]] = frozenset({"terms_id", "terms_en"})

    title: str
    logo: str | None = Field(None, description="Path of an image under inventory/branding/")
    terms_id: str = Field(description="Terms of use, Bahasa Indonesia")
    terms_en: str = Field(description="Terms of use, English")


class RadiusNas(_Model):
    """adapter radius: how the hotspot's NAS and FreeRADIUS reach each other (issue #19).

    The NAS sends Access-Request and Accounting-Request to `server`; FreeRADIUS knows it as a
    client by `nas_address` (the source address of its packets) and `secret`; Simpul sends it
    RFC 5176 Disconnect-Request on `coa_port`."""

    secret: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$",
                        description="Name of the shared secret in the secrets file (never "
                                    "the secret itself)")
    server: ipaddress.IPv4Address | ipaddress.IPv6Address = Field(
        description="FreeRADIUS's address as the NAS reaches it")
    auth_port: int = Field(1812, ge=1, le=65535)
    acct_port: int = Field(1813, ge=1, le=65535)
    nas_address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = Field(
        None, description="Source address of the NAS's RADIUS packets, and where Disconnect-"
                          "Request goes; default: the gateway device's mgmt_address")
    coa_port: int = Field(3799, ge=1, le=65535, description="RFC 5176 port on the NAS")
    nas: Literal["mikrotik", "chilli"] = Field(
        "mikrotik", description="How the portal hands the browser to the NAS's login: "
                                "mikrotik (its $(link-login-only), a form post) or chilli "
                                "(CoovaChilli's UAM logon with the challenge and uam_secret)")
    uam_secret: str | None = Field(
        None, pattern=r"^[A-Za-z][A-Za-z0-9_-]*$",
        description="nas chilli: name of Chilli's uamsecret (HS_UAMSECRET) in the secrets file "
                    "(never the secret itself)")


class Hotspot(_Model):
    name: Name
    site: str
    gateway: str
    adapter: Adapter
    client_subnet: ipaddress.IPv4Network | ipaddress.IPv6Network
    ssid: str = Field(min_length=1, max_length=32)
    login_modes: list[LoginMode] = Field(min_length=1)
    session_timeout: DurationS
    idle_timeout: DurationS
    daily_quota: DailyQuota = Field(default_factory=DailyQuota)
    client_rate: AllocationField
    branding: Branding
    gateway_login_secret: str = Field(
        "hotspot_login_password", pattern=r"^[A-Za-z][A-Za-z0-9_-]*$",
        description="mikrotik adapter: secret of the hotspot user the portal logs clients in as")
    radius: RadiusNas | None = Field(
        None, description="radius adapter: the NAS's RADIUS client settings")
    dns_name: DnsName | None = Field(
        None, description="mikrotik adapter: the hotspot's own DNS name (its dns-name, where "
                          "clients reach its login and logout pages); not the portal's name")
    protected_ranges: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = Field(
        default_factory=list,
        description="Never reachable from the hotspot, logged in or not, except the portal's "
                    "ports: the backbone's private ranges, the controller, devices' management")
    group: str | None = None
    open_hours: Annotated[tuple[tuple[int, int], ...] | None,
                          BeforeValidator(lambda v: None if v is None else _parse_time_ranges(v))
                          ] = Field(None, description="Local times the place is open, every "
                                    "day, e.g. ['06:00-22:00']: a hotspot without logins "
                                    "then is alerted (SimpulHotspotNoLogins)")

    def open_elapsed_s(self, local_second: int) -> int:
        """Seconds since the open-hours range holding this second of the local day began;
        0 when closed or when no open hours are set."""
        for start, end in self.open_hours or ():
            if start * 60 <= local_second < end * 60:
                return local_second - start * 60
        return 0

    @field_validator("login_modes")
    @classmethod
    def _unique_modes(cls, modes: list[str]) -> list[str]:
        if len(set(modes)) != len(modes):
            raise ValueError("login mode listed twice")
        return modes


def _secret_name(value: str) -> str:
    if not SECRET_NAME_RE.match(value):
        raise ValueError(f"bad secret name {value!r}: letters, digits, '-' and '_' only")
    return value


SecretName = Annotated[str, BeforeValidator(_secret_name)]


class CredentialProfile(_Model):
    name: Name
    username: str = Field(min_length=1)
    password_secret: SecretName
    enable_secret: SecretName | None = None

    def secret_names(self) -> list[str]:
        return [s for s in (self.password_secret, self.enable_secret) if s]


class SnmpProfile(_Model):
    name: Name
    version: Literal["v2c", "v3"]
    community_secret: SecretName | None = None
    username: str | None = None
    auth_protocol: Literal["SHA", "SHA256", "SHA512", "MD5"] | None = None
    auth_secret: SecretName | None = None
    priv_protocol: Literal["AES", "AES256", "DES"] | None = None
    priv_secret: SecretName | None = None

    def secret_names(self) -> list[str]:
        return [s for s in (self.community_secret, self.auth_secret, self.priv_secret) if s]

    def shape_problems(self) -> list[str]:
        if self.version == "v2c":
            return [] if self.community_secret else ["v2c needs community_secret"]
        missing = [
            f for f in ("username", "auth_protocol", "auth_secret", "priv_protocol", "priv_secret")
            if getattr(self, f) is None
        ]
        return [f"v3 (authPriv) needs {', '.join(missing)}"] if missing else []


# --------------------------------------------------------------------------- the inventory

SECTIONS: dict[str, type[_Model]] = {
    "sites": Site,
    "devices": Device,
    "links": Link,
    "hotspots": Hotspot,
    "credential_profiles": CredentialProfile,
    "snmp_profiles": SnmpProfile,
    "holidays": Holiday,
    "contracts": Contract,
    "maintenance": Maintenance,
}
KEY_FIELD = {"sites": "code", "links": "name"}
SINGULAR = {
    "sites": "site",
    "devices": "device",
    "links": "link",
    "hotspots": "hotspot",
    "credential_profiles": "credential profile",
    "snmp_profiles": "SNMP profile",
    "holidays": "holiday",
    "contracts": "contract",
    "maintenance": "maintenance window",
}


@dataclass
class Inventory:
    sites: dict[str, Site] = field(default_factory=dict)
    devices: dict[str, Device] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    hotspots: dict[str, Hotspot] = field(default_factory=dict)
    credential_profiles: dict[str, CredentialProfile] = field(default_factory=dict)
    snmp_profiles: dict[str, SnmpProfile] = field(default_factory=dict)
    holidays: dict[str, Holiday] = field(default_factory=dict)
    contracts: dict[str, Contract] = field(default_factory=dict)
    maintenance: dict[str, Maintenance] = field(default_factory=dict)
    locations: dict[tuple[str, str], Location] = field(default_factory=dict)

    def home_zone(self) -> str:
        """The regency's own time zone: its NOC site's (Asia/Jakarta, WIB, without one)."""
        noc = next((s for s in self.sites.values() if s.kind == "noc"), None)
        return noc.timezone if noc else "Asia/Jakarta"

    def summary(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for site in self.sites.values():
            kinds[site.kind] = kinds.get(site.kind, 0) + 1
        platforms: dict[str, int] = {}
        for device in self.devices.values():
            platforms[device.platform] = platforms.get(device.platform, 0) + 1
        uplink = self.uplink_capacity()
        allocated_down = sum(s.allocation.down_bps for s in self.sites.values() if s.kind != "noc")
        return {
            "sites": len(self.sites),
            "sites_by_kind": dict(sorted(kinds.items())),
            "devices": len(self.devices),
            "devices_by_platform": dict(sorted(platforms.items())),
            "links": len(self.links),
            "hotspots": len(self.hotspots),
            "credential_profiles": len(self.credential_profiles),
            "snmp_profiles": len(self.snmp_profiles),
            "uplink_down_bps": uplink.down_bps,
            "uplink_up_bps": uplink.up_bps,
            "allocated_down_bps": allocated_down,
        }

    def uplink_capacity(self) -> Allocation:
        isp = [link.capacity for link in self.links if link.medium == "isp"]
        return Allocation(sum(c.down_bps for c in isp), sum(c.up_bps for c in isp))

    def site_of(self, device: Device) -> Site:
        return self.sites[device.site]

    def devices_at(self, site_code: str) -> list[Device]:
        return [d for d in self.devices.values() if d.site == site_code]

    def hotspot_for_ip(self, address: str) -> Hotspot | None:
        """The hotspot whose client subnet holds this address (subnets never overlap)."""
        ip = ipaddress.ip_address(address)
        for hotspot in self.hotspots.values():
            if ip.version == hotspot.client_subnet.version and ip in hotspot.client_subnet:
                return hotspot
        return None

    def secret_names(self) -> set[str]:
        names: set[str] = set()
        profiles: list[CredentialProfile | SnmpProfile] = [
            *self.credential_profiles.values(), *self.snmp_profiles.values()]
        for profile in profiles:
            names.update(profile.secret_names())
        names.update(h.gateway_login_secret for h in self.hotspots.values()
                     if h.adapter == "mikrotik")
        names.update(h.radius.secret for h in self.hotspots.values() if h.radius is not None)
        names.update(h.radius.uam_secret for h in self.hotspots.values()
                     if h.radius is not None and h.radius.uam_secret)
        return names

    def location_of(self, kind: str, key: str) -> Location | None:
        return self.locations.get((kind, key))
