"""The inventory: sites, devices, links and hotspots as pydantic models, loaded from YAML.

Every item remembers the file and line it came from, so each problem is reported as
`path:line: message`, all of them at once, never as a traceback.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from controller.secrets import SECRET_NAME_RE, SecretsError, SecretStore, env_var_for
from controller.units import Allocation, parse_bytes, parse_duration_s, parse_rate_bps

SiteKind = Literal["noc", "sopd", "kecamatan", "kelurahan", "desa", "hotspot"]
Timezone = Literal["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]
Platform = Literal["mikrotik_routeros", "cisco_ios", "linux"]
Medium = Literal["fiber", "wireless", "vpn", "isp"]
Adapter = Literal["nftables", "mikrotik"]
LoginMode = Literal["click_through", "voucher", "phone_otp"]

ADAPTER_PLATFORM: dict[str, str] = {"nftables": "linux", "mikrotik": "mikrotik_routeros"}

AllocationField = Annotated[Allocation, BeforeValidator(Allocation.parse)]
DurationS = Annotated[int, BeforeValidator(parse_duration_s)]
Bytes = Annotated[int, BeforeValidator(parse_bytes)]
RateBps = Annotated[int, BeforeValidator(parse_rate_bps)]
Name = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9._-]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class Contact(_Model):
    name: str
    phone: str | None = None
    email: str | None = None


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

    def allocation_at_local(self, day: str, minute: int, holiday: bool = False) -> Allocation:
        window = self.window_at(day, minute, holiday)
        return window.allocation.resolve(self.allocation) if window else self.allocation


class Device(_Model):
    name: Name
    site: str
    platform: Platform
    role: str = Field(min_length=1)
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
    title: str
    logo: str | None = Field(None, description="Path of an image under inventory/branding/")
    terms_id: str = Field(description="Terms of use, Bahasa Indonesia")
    terms_en: str = Field(description="Terms of use, English")


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
    group: str | None = None

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


# --------------------------------------------------------------------------- YAML with lines


@dataclass(frozen=True, order=True)
class Location:
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, order=True)
class Problem:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.location.path, "line": self.location.line, "message": self.message}


class InventoryError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class _Map(dict):  # type: ignore[type-arg]
    """A YAML mapping that knows where it and each of its keys were written."""

    location: Location
    key_locations: dict[Any, Location]


class _LineLoader(yaml.SafeLoader):
    path = "<string>"
    duplicate_keys: list[Problem]


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    result = _Map()
    result.location = Location(loader.path, node.start_mark.line + 1)
    result.key_locations = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        where = Location(loader.path, key_node.start_mark.line + 1)
        if key in result:
            loader.duplicate_keys.append(Problem(where, f"key {key!r} is written twice"))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_locations[key] = where
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)


def _parse_yaml(text: str, display_path: str) -> tuple[Any, list[Problem]]:
    loader = _LineLoader(text)
    loader.path = display_path
    loader.duplicate_keys = []
    try:
        return loader.get_single_data(), loader.duplicate_keys
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or "syntax error"
        return None, [Problem(Location(display_path, line), f"YAML syntax error: {what}")]
    finally:
        loader.dispose()


# --------------------------------------------------------------------------- the inventory

SECTIONS: dict[str, type[_Model]] = {
    "sites": Site,
    "devices": Device,
    "links": Link,
    "hotspots": Hotspot,
    "credential_profiles": CredentialProfile,
    "snmp_profiles": SnmpProfile,
    "holidays": Holiday,
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
    locations: dict[tuple[str, str], Location] = field(default_factory=dict)

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
        return names

    def location_of(self, kind: str, key: str) -> Location | None:
        return self.locations.get((kind, key))


@dataclass
class _RawItem:
    section: str
    data: _Map
    index: int


def _yaml_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def _display(directory: Path, path: Path) -> str:
    return os.path.normpath(os.path.join(str(directory), str(path.relative_to(directory))))


def _label(section: str, data: dict[str, Any], index: int) -> str:
    key = data.get(KEY_FIELD.get(section, "name"))
    if section == "links" and not key:
        key = _link_label(data)
    return f"{SINGULAR[section]} {key!r}" if key else f"{section}[{index}]"


def _link_label(data: dict[str, Any]) -> str | None:
    ends = []
    for side in ("a", "b"):
        end = data.get(side)
        if not isinstance(end, dict):
            return None
        ends.append(end.get("provider") or f"{end.get('device')}:{end.get('interface')}")
    return "--".join(ends)


def _where(data: _Map, loc: tuple[Any, ...]) -> Location:
    """Follow a pydantic error location into the raw YAML to find the nearest line."""
    where = data.location
    node: Any = data
    for part in loc:
        if isinstance(node, _Map) and part in node:
            where = node.key_locations.get(part, where)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            if isinstance(node, _Map):
                where = node.location
        else:
            break
    return where


def _describe(error: dict[str, Any]) -> str:
    loc = [str(p) for p in error["loc"] if not str(p).startswith(("function-", "lax-"))]
    # Union members appear in loc as type names; keep only real field names.
    loc = [p for p in loc if not p[:1].isupper() and "[" not in p]
    field_name = ".".join(loc) or "value"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown field {field_name!r}"
    if kind == "missing":
        return f"missing field {field_name!r}"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"unknown {field_name} {error['input']!r} (expected {expected})"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{field_name}: {message}"


class _Loader:
    def __init__(self, directory: Path, secrets: SecretStore | None):
        self.directory = directory
        self.secrets = secrets
        self.problems: list[Problem] = []
        self.defaults: dict[str, _Map] = {}
        self.groups: dict[str, _Map] = {}
        self.raw: list[_RawItem] = []
        self.unreadable = False
        self.merged: dict[tuple[str, str], _Map] = {}

    def problem(self, where: Location, message: str) -> None:
        self.problems.append(Problem(where, message))

    # --- reading files
    def read(self) -> None:
        if not self.directory.is_dir():
            self.problem(Location(str(self.directory), 0), "inventory directory not found")
            return
        files = _yaml_files(self.directory)
        if not files:
            self.problem(Location(str(self.directory), 0), "no .yaml files in the inventory")
        for path in files:
            self._read_file(path)

    def _read_file(self, path: Path) -> None:
        display = _display(self.directory, path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problem(Location(display, 0), f"cannot read file: {exc}")
            self.unreadable = True
            return
        doc, problems = _parse_yaml(text, display)
        self.problems.extend(problems)
        if doc is None:
            self.unreadable = self.unreadable or bool(problems)
            return
        if not isinstance(doc, _Map):
            self.problem(Location(display, 1), "a file must be a mapping of sections")
            return
        for section, body in doc.items():
            where = doc.key_locations[section]
            if section == "defaults":
                self._read_defaults(body, where)
            elif section == "groups":
                self._read_groups(body, where)
            elif section in SECTIONS:
                if not isinstance(body, list):
                    self.problem(where, f"section {section!r} must be a list")
                    continue
                for index, item in enumerate(body):
                    if not isinstance(item, _Map):
                        self.problem(where, f"{section}[{index}] must be a mapping")
                        continue
                    self.raw.append(_RawItem(section, item, index))
            else:
                known = ", ".join(["defaults", "groups", *SECTIONS])
                self.problem(where, f"unknown section {section!r} (expected one of: {known})")

    def _read_defaults(self, body: Any, where: Location) -> None:
        if not isinstance(body, _Map):
            self.problem(where, "'defaults' must be a mapping of section: values")
            return
        for section, values in body.items():
            at = body.key_locations[section]
            if section not in SECTIONS:
                self.problem(at, f"defaults: unknown section {section!r}")
            elif not isinstance(values, _Map):
                self.problem(at, f"defaults.{section} must be a mapping")
            elif section in self.defaults:
                self.problem(at, f"defaults.{section} is given twice")
            else:
                self.defaults[section] = values

    def _read_groups(self, body: Any, where: Location) -> None:
        if not isinstance(body, _Map):
            self.problem(where, "'groups' must be a mapping of name: values")
            return
        for name, values in body.items():
            at = body.key_locations[name]
            if not isinstance(values, _Map):
                self.problem(at, f"group {name!r} must be a mapping")
            elif name in self.groups:
                first = self.groups[name].location
                self.problem(at, f"duplicate group {name!r} (first at {first})")
            else:
                self.groups[name] = values

    # --- building models
    def _merged(self, item: _RawItem) -> _Map | None:
        """defaults < group < item, each key keeping the line it came from."""
        layers: list[_Map] = []
        if item.section in self.defaults:
            layers.append(self.defaults[item.section])
        group_name = item.data.get("group")
        if group_name is not None:
            group = self.groups.get(group_name) if isinstance(group_name, str) else None
            if group is None:
                at = item.data.key_locations["group"]
                label = _label(item.section, item.data, item.index)
                self.problem(at, f"{label}: unknown group {group_name!r}")
                return None
            layers.append(group)
        layers.append(item.data)
        merged = _Map()
        merged.location = item.data.location
        merged.key_locations = {}
        for layer in layers:
            for key, value in layer.items():
                if isinstance(value, _Map) and isinstance(merged.get(key), _Map):
                    value = self._merge_nested(merged[key], value)
                merged[key] = value
                merged.key_locations[key] = layer.key_locations[key]
        return merged

    @staticmethod
    def _merge_nested(base: _Map, top: _Map) -> _Map:
        out = _Map({**base, **top})
        out.location = top.location
        out.key_locations = {**base.key_locations, **top.key_locations}
        return out

    def build(self) -> Inventory:
        inventory = Inventory()
        seen: dict[tuple[str, str], Location] = {}
        for item in self.raw:
            merged = self._merged(item)
            if merged is None:
                continue
            model_cls = SECTIONS[item.section]
            label = _label(item.section, merged, item.index)
            try:
                model = model_cls.model_validate(dict(merged))
            except ValidationError as exc:
                for error in exc.errors():
                    self.problem(_where(merged, error["loc"]), f"{label}: {_describe(dict(error))}")
                continue
            key = self._key(item.section, model)
            if (item.section, key) in seen:
                first = seen[(item.section, key)]
                self.problem(merged.location, f"duplicate {SINGULAR[item.section]} {key!r} "
                             f"(first at {first})")
                continue
            seen[(item.section, key)] = merged.location
            self.merged[(item.section, key)] = merged
            inventory.locations[(item.section, key)] = merged.location
            self._add(inventory, item.section, key, model)
        return inventory

    @staticmethod
    def _key(section: str, model: _Model) -> str:
        if isinstance(model, Site):
            return model.code
        if isinstance(model, Link):
            return model.label
        return str(model.name)  # type: ignore[attr-defined]

    @staticmethod
    def _add(inventory: Inventory, section: str, key: str, model: _Model) -> None:
        if section == "links":
            inventory.links.append(model)  # type: ignore[arg-type]
        else:
            getattr(inventory, section)[key] = model


def _cross_check(inv: Inventory, loader: _Loader) -> None:
    """Checks that need the whole inventory: references, uniqueness, addressing, secrets."""

    def report(section: str, key: str, message: str, field: tuple[Any, ...] = ()) -> None:
        """Report at the line of `field` within the item (or the item's own line)."""
        raw = loader.merged.get((section, key))
        where = _where(raw, field) if raw is not None else Location(str(loader.directory), 0)
        loader.problem(where, f"{SINGULAR[section]} {key!r}: {message}")

    names: dict[str, str] = {}
    for site in inv.sites.values():
        if site.name in names:
            report("sites", site.code, f"duplicate site name {site.name!r} "
                   f"(also site {names[site.name]!r})")
        names.setdefault(site.name, site.code)
        if site.parent is not None and site.parent not in inv.sites:
            report("sites", site.code, f"unknown parent site {site.parent!r}", ("parent",))

    addresses: dict[str, str] = {}
    for dev in inv.devices.values():
        if dev.site not in inv.sites:
            report("devices", dev.name, f"unknown site {dev.site!r}", ("site",))
        if dev.credentials not in inv.credential_profiles:
            report("devices", dev.name, f"unknown credential profile {dev.credentials!r}",
                   ("credentials",))
        if dev.snmp is not None and dev.snmp not in inv.snmp_profiles:
            report("devices", dev.name, f"unknown SNMP profile {dev.snmp!r}", ("snmp",))
        addr = str(dev.mgmt_address)
        if addr in addresses:
            report("devices", dev.name, f"duplicate management address {addr} "
                   f"(also device {addresses[addr]!r})", ("mgmt_address",))
        addresses.setdefault(addr, dev.name)

    ends: dict[tuple[str, str], str] = {}
    for link in inv.links:
        label = link.label
        providers = [e for e in (link.a, link.b) if e.provider]
        if link.medium == "isp" and len(providers) != 1:
            report("links", label, "an isp link needs exactly one end with a provider")
        if link.medium != "isp" and providers:
            report("links", label, f"only an isp link may have a provider end "
                   f"(medium is {link.medium})")
        for side, end in (("a", link.a), ("b", link.b)):
            if end.provider:
                continue
            if not end.device or not end.interface:
                report("links", label, "each end needs device and interface", (side,))
                continue
            if end.device not in inv.devices:
                report("links", label, f"unknown device {end.device!r}", (side, "device"))
            pair = (end.device, end.interface)
            if pair in ends:
                report("links", label, f"interface {end.device}:{end.interface} is already "
                       f"used by link {ends[pair]!r}", (side, "interface"))
            ends.setdefault(pair, label)

    subnets: list[tuple[str, Any]] = []
    for hs in inv.hotspots.values():
        if hs.site not in inv.sites:
            report("hotspots", hs.name, f"unknown site {hs.site!r}", ("site",))
        gateway = inv.devices.get(hs.gateway)
        if gateway is None:
            report("hotspots", hs.name, f"unknown gateway device {hs.gateway!r}", ("gateway",))
        else:
            wanted = ADAPTER_PLATFORM[hs.adapter]
            if gateway.platform != wanted:
                report("hotspots", hs.name, f"adapter {hs.adapter} needs a {wanted} gateway, "
                       f"but {gateway.name!r} is {gateway.platform}", ("adapter",))
            if gateway.site != hs.site:
                report("hotspots", hs.name, f"gateway {gateway.name!r} is at site "
                       f"{gateway.site!r}, not {hs.site!r}")
        for other_name, other in subnets:
            if other.version == hs.client_subnet.version and other.overlaps(hs.client_subnet):
                report("hotspots", hs.name, f"client subnet {hs.client_subnet} overlaps "
                       f"hotspot {other_name!r} ({other})", ("client_subnet",))
        subnets.append((hs.name, hs.client_subnet))
        for dev in inv.devices.values():
            ip = dev.mgmt_address
            if ip.version == hs.client_subnet.version and ip in hs.client_subnet:
                report("devices", dev.name, f"management address {ip} is inside the client "
                       f"subnet {hs.client_subnet} of hotspot {hs.name!r}", ("mgmt_address",))

    for profile in inv.snmp_profiles.values():
        for message in profile.shape_problems():
            report("snmp_profiles", profile.name, message)

    if loader.secrets is not None:
        for hs in inv.hotspots.values():
            if hs.adapter == "mikrotik" and hs.gateway_login_secret not in loader.secrets:
                report("hotspots", hs.name, f"secret {hs.gateway_login_secret!r} is not set "
                       f"(set {env_var_for(hs.gateway_login_secret)} or add it to the secrets "
                       "file)", ("gateway_login_secret",))
        named: list[tuple[str, str]] = [
            *(("credential_profiles", name) for name in inv.credential_profiles),
            *(("snmp_profiles", name) for name in inv.snmp_profiles)]
        for section, name in named:
            raw: dict[str, Any] = loader.merged.get((section, name), {})
            for key, secret in raw.items():
                if key.endswith("_secret") and secret and secret not in loader.secrets:
                    report(section, name, f"secret {secret!r} is not set "
                           f"(set {env_var_for(secret)} or add it to the secrets file)",
                           (key,))


def _schedule_location(inv: Inventory, loader: _Loader, code: str, index: int) -> Location:
    """The line of a site's schedule window (which may come from a group or the defaults)."""
    merged = getattr(loader, "merged", {}).get(("sites", code))
    if merged is None:
        for item in loader.raw:
            if item.section == "sites" and item.data.get("code") == code:
                merged = loader._merged(item)
                break
    if merged is None:
        return inv.locations.get(("sites", code), Location(str(loader.directory), 0))
    return _where(merged, ("schedule", index))


def _check_schedules(inv: Inventory, loader: _Loader) -> None:
    """Schedule windows must not overlap, holidays must not repeat, and the allocations in
    force at any moment of the week (or on a holiday) must fit the uplinks."""
    for site in inv.sites.values():
        names: set[str] = set()
        taken: list[tuple[str, int, int, str]] = []
        for index, window in enumerate(site.schedule):
            where = _schedule_location(inv, loader, site.code, index)
            prefix = f"site {site.code!r}: schedule window {window.name!r}"
            if window.name in names:
                loader.problem(where, f"{prefix}: name is used twice")
            names.add(window.name)
            for day in window.days:
                for start, end in window.times:
                    for other_day, o_start, o_end, other in taken:
                        if other_day == day and start < o_end and o_start < end:
                            loader.problem(where, (
                                f"{prefix}: {day} {minute_label(start)}-{minute_label(end)} "
                                f"overlaps window {other!r} ({minute_label(o_start)}-"
                                f"{minute_label(o_end)})"))
                    taken.append((day, start, end, window.name))
    dates: dict[Any, str] = {}
    for holiday in inv.holidays.values():
        if holiday.date in dates:
            where = inv.locations.get(("holidays", holiday.name), Location("?", 0))
            loader.problem(where, f"holiday {holiday.name!r}: date {holiday.date} is also "
                           f"holiday {dates[holiday.date]!r}")
        dates.setdefault(holiday.date, holiday.name)
    _check_scheduled_capacity(inv, loader)


def _check_scheduled_capacity(inv: Inventory, loader: _Loader) -> None:
    uplink = inv.uplink_capacity()
    sites = [s for s in inv.sites.values() if s.kind != "noc"]
    if not uplink.down_bps or not any(s.schedule for s in sites):
        return
    week = 7 * 1440
    blamed: set[tuple[str, str]] = set()
    for holiday in (False, True):
        points: set[int] = {0}
        for site in sites:
            offset = TZ_OFFSET_MIN[site.timezone]
            for window in site.schedule:
                for start, end in window.times:
                    for d in range(7):
                        points.add((d * 1440 + start - offset) % week)
                        points.add((d * 1440 + end - offset) % week)
        for point in sorted(points):
            down = up = 0
            active: list[tuple[Site, ScheduleWindow | None, int, str]] = []
            for site in sites:
                local = (point + TZ_OFFSET_MIN[site.timezone]) % week
                day, minute = DAYS[local // 1440], local % 1440
                current = site.window_at(day, minute, holiday)
                alloc = current.allocation.resolve(site.allocation) if current else site.allocation
                down += alloc.down_bps
                up += alloc.up_bps
                active.append((site, current, minute, day))
            if down <= uplink.down_bps and up <= uplink.up_bps:
                continue
            # Blame the windows that start at this moment and raise a site above its own
            # allocation; failing that, the site with the largest allocation then.
            culprits: list[tuple[Site, ScheduleWindow | None, int, str]] = [
                (s, w, m, d) for s, w, m, d in active if w is not None
                and any(a == m for a, _ in w.times)
                and w.allocation.resolve(s.allocation).down_bps > s.allocation.down_bps]
            if not culprits:
                culprits = [max(active, key=lambda a: (a[1].allocation.resolve(a[0].allocation)
                                                       if a[1] else a[0].allocation).down_bps)]
            for site, blame, minute, day in culprits:
                key = (site.code, blame.name if blame else "")
                if key in blamed:
                    continue
                blamed.add(key)
                when = f"{'on a holiday' if holiday else 'on ' + day} at {minute_label(minute)} " \
                       f"{TZ_ABBREV[site.timezone]}"
                if blame is not None:
                    index = site.schedule.index(blame)
                    where = _schedule_location(inv, loader, site.code, index)
                    what = f"site {site.code!r}: schedule window {blame.name!r}"
                else:
                    where = inv.locations.get(("sites", site.code), Location("?", 0))
                    what = f"site {site.code!r}: allocation"
                loader.problem(where, (
                    f"{what}: {when} the sites' allocations add up to "
                    f"{Allocation(down, up)}, more than the uplinks' {uplink}"))


def check_inventory(
    directory: Path | str, secrets: SecretStore | None = None
) -> tuple[Inventory, list[Problem]]:
    """Load and validate; return the inventory (possibly partial) and every problem found.

    With `secrets=None` the check that referenced secrets exist is skipped.
    """
    loader = _Loader(Path(directory), secrets)
    loader.read()
    inventory = loader.build()
    if not loader.unreadable:
        # References into a file that could not be parsed would all look broken.
        _cross_check(inventory, loader)
        _check_schedules(inventory, loader)
    return inventory, sorted(set(loader.problems))


def load_inventory(directory: Path | str, secrets: SecretStore | None = None) -> Inventory:
    """Load the inventory or raise InventoryError listing every problem."""
    inventory, problems = check_inventory(directory, secrets)
    if problems:
        raise InventoryError(problems)
    return inventory



__all__ = [
    "Allocation", "Branding", "Contact", "CredentialProfile", "DailyQuota", "Device", "Hotspot",
    "Inventory", "InventoryError", "Link", "LinkEnd", "Location", "Problem", "SecretsError",
    "Site", "SnmpProfile", "check_inventory", "load_inventory", "parse_rate_bps",
]
