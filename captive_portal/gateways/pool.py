"""The portal's adapters, one per hotspot: built on first use, rebuilt after an inventory reload.

Every room of the portal (login, accounting, reconcile) reaches a hotspot's gateway here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

from captive_portal.gateways import ADAPTERS
from captive_portal.gateways.base import Client, GatewayAdapter, SshTimeouts
from controller.context import Context
from controller.devices.host_keys import known_hosts_path
from controller.inventory import Hotspot


class GatewayPool:
    def __init__(self, ctx: Context,
                 factory: Callable[[Hotspot], GatewayAdapter] | None = None):
        self.ctx = ctx
        self._factory = factory
        self._gateways: dict[str, GatewayAdapter] = {}
        self._lock = threading.Lock()
        self._inventory_seen = ctx.inventory
        # adapter radius: (hotspot, client) -> the NAS's (User-Name, Acct-Session-Id) of the
        # client's session, for its Disconnect-Request (the Portal sets it: portal.radius)
        self.identify: Callable[[str, Client], tuple[str | None, str | None]] | None = None

    @property
    def simulated(self) -> bool:
        """No gateway to ask (SIMPUL_PORTAL_GATEWAY=memory and no adapter given by a test)."""
        return self.ctx.settings.portal_gateway == "memory" and self._factory is None

    def get(self, hotspot_name: str) -> GatewayAdapter:
        """The hotspot's adapter (KeyError for a hotspot not in the inventory)."""
        with self._lock:
            if self._inventory_seen is not self.ctx.inventory:
                # Reloaded: a hotspot's gateway, address or credentials may have changed.
                for stale in self._gateways.values():
                    stale.close()
                self._gateways.clear()
                self._inventory_seen = self.ctx.inventory
            adapter = self._gateways.get(hotspot_name)
            if adapter is None:
                hotspot = self.ctx.inventory.hotspots[hotspot_name]
                if self._factory is not None:
                    adapter = self._factory(hotspot)
                else:
                    kind = ("memory" if self.ctx.settings.portal_gateway == "memory"
                            else hotspot.adapter)
                    device = self.ctx.inventory.devices[hotspot.gateway]
                    settings = self.ctx.settings
                    adapter = ADAPTERS[kind](hotspot, device, self.ctx.inventory,
                                             self.ctx.secrets,
                                             known_hosts_path(settings.data_dir),
                                             SshTimeouts(settings.portal_gateway_connect_timeout_s,
                                                         settings.portal_gateway_read_timeout_s,
                                                         settings.portal_gateway_retry_s))
                send_from = getattr(adapter, "send_from", None)
                if send_from is not None:  # adapter radius: its Disconnect-Requests' source
                    send_from(self.ctx.settings.radius_disconnect_source)
                identify_with = getattr(adapter, "identify_with", None)
                if identify_with is not None and self.identify is not None:
                    identify_with(partial(self.identify, hotspot_name))
                self._gateways[hotspot_name] = adapter
            return adapter

    def opened(self, hotspot_name: str) -> bool:
        """Has this process already reached the hotspot's gateway?"""
        return hotspot_name in self._gateways

    def close(self) -> None:
        with self._lock:
            for adapter in self._gateways.values():
                adapter.close()
            self._gateways.clear()
