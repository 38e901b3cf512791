"""The inventory: sites, devices, links and hotspots as pydantic models, loaded from YAML.

Every item remembers the file and line it came from, so each problem is reported as
`path:line: message`, all of them at once, never as a traceback. The rooms: models.py
(pydantic models), yaml_lines.py (YAML with file:line), loader.py (defaults < group < item),
checks.py (cross-references, capacity, schedules), watch.py (reload while serving).
"""

from __future__ import annotations

from controller.inventory.checks import check_inventory, load_inventory
from controller.inventory.models import (
    ADAPTER_PLATFORM,
    DAYS,
    HOLIDAY,
    KEY_FIELD,
    SECTIONS,
    SINGULAR,
    TZ_ABBREV,
    TZ_OFFSET_MIN,
    Adapter,
    AllocationField,
    Branding,
    Bytes,
    Contact,
    Contract,
    CredentialProfile,
    CreditBand,
    DailyQuota,
    Device,
    DurationS,
    Holiday,
    Hotspot,
    Inventory,
    Link,
    LinkEnd,
    LoginMode,
    Maintenance,
    Medium,
    Name,
    Platform,
    RadiusNas,
    RateBps,
    Rupiah,
    ScheduleWindow,
    SecretName,
    Site,
    SiteKind,
    SnmpProfile,
    Timezone,
    WindowAllocation,
    minute_label,
)
from controller.inventory.yaml_lines import InventoryError, Location, Problem
from controller.secrets import SecretsError
from controller.units import Allocation, parse_rate_bps

__all__ = [
    "ADAPTER_PLATFORM", "DAYS", "HOLIDAY", "KEY_FIELD", "SECTIONS", "SINGULAR", "TZ_ABBREV",
    "TZ_OFFSET_MIN", "Adapter", "Allocation", "AllocationField", "Branding", "Bytes", "Contact",
    "Contract", "CreditBand", "CredentialProfile", "DailyQuota", "Device", "DurationS", "Holiday",
    "Hotspot", "Inventory", "InventoryError", "Link", "LinkEnd", "Location", "LoginMode",
    "Maintenance", "Medium", "Name", "Platform", "Problem", "RateBps", "Rupiah", "ScheduleWindow",
    "RadiusNas", "SecretName", "SecretsError", "Site", "SiteKind", "SnmpProfile", "Timezone",
    "WindowAllocation", "check_inventory", "load_inventory", "minute_label", "parse_rate_bps",
]
