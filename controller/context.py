"""What a running Simpul holds: settings, store, secrets, the loaded inventory, metrics."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from controller.allocation_history import record_inventory
from controller.inventory import Inventory, check_inventory, load_inventory
from controller.secrets import SecretsError, SecretStore
from controller.settings import Settings
from controller.shard import ALL, Shard
from controller.store.db import Store, migrate

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # the exporters' state types; core never imports exporters at run time
    from exporters.state import CycleHook, LatestReadings


@dataclass
class Context:
    settings: Settings
    store: Store
    secrets: SecretStore
    inventory: Inventory
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    shard: Shard = ALL  # the sites this process's loops look after (serve --shard i/n)
    # The last reload attempt's problems (the inventory in force stays the last good one).
    inventory_problems: list[str] = field(default_factory=list)
    inventory_loaded_at: float = field(default_factory=time.time)
    portal: Any = None  # the captive portal's rooms (captive_portal.service.portal_for)
    # The poller's and probes' latest readings in this process (exporters.state.latest_readings)
    # and the hooks every poll cycle of this process calls (the office-bandwidth rollups).
    latest: LatestReadings | None = None
    cycle_hooks: list[CycleHook] = field(default_factory=list)
    # /metrics bytes with the poll cycle's part cached (exporters.exposition.Exposition),
    # set when the collectors are registered; None: render the registry as it is.
    exposition: Any = None

    @classmethod
    def open(cls, settings: Settings, *, run_migrations: bool = True) -> Context:
        """Load secrets and inventory (raising on any problem), migrate and open the store."""
        secrets = SecretStore.load(settings.resolved_secrets_file())
        inventory = load_inventory(settings.inventory_dir, secrets)
        url = settings.resolved_database_url()
        settings.ensure_data_dir()
        if run_migrations:
            migrate(url)
        ctx = cls(settings=settings, store=Store(url), secrets=secrets, inventory=inventory)
        if run_migrations:
            ctx.record_allocations()
        return ctx

    def record_allocations(self) -> None:
        """Store the allocations this inventory changed (history for the closed months)."""
        with self.store.session() as session:
            record_inventory(session, self.inventory)

    def reload_inventory(self) -> list[str]:
        """Read the inventory and secrets files again; take them only if they are valid.

        Returns the problems found (`path:line: message`, secrets file errors as they read);
        with any problem, the inventory and secrets in force stay as they were. Consumers read
        `ctx.inventory` / `ctx.secrets` afresh (or notice the new object), never a copy.
        """
        try:
            secrets = SecretStore.load(self.settings.resolved_secrets_file())
        except SecretsError as exc:
            problems = [str(exc)]
        else:
            inventory, found = check_inventory(self.settings.inventory_dir, secrets)
            problems = [str(p) for p in found]
            if not problems:
                self.secrets, self.inventory = secrets, inventory
                self.inventory_loaded_at = time.time()
                try:
                    self.record_allocations()
                except Exception:  # the store is down: the next reload stores them
                    log.exception("could not store the allocation history")
        self.inventory_problems = problems
        return problems

    def close(self) -> None:
        self.store.dispose()
