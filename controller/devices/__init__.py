"""Device platforms: one module per platform behind the DevicePlatform Protocol."""

from __future__ import annotations

from controller.devices.base import (
    DeviceError,
    DevicePlatform,
    DeviceTarget,
    IntentError,
    Plan,
    build_target,
)
from controller.devices.cisco_ios import CiscoIOS
from controller.devices.linux import Linux
from controller.devices.mikrotik_routeros import MikrotikRouterOS

PLATFORMS: dict[str, DevicePlatform] = {
    "mikrotik_routeros": MikrotikRouterOS(),
    "cisco_ios": CiscoIOS(),
    "linux": Linux(),
}

__all__ = ["PLATFORMS", "DeviceError", "DevicePlatform", "DeviceTarget", "IntentError", "Plan",
           "build_target"]
