"""What a running Simpul holds: settings, store, secrets, the loaded inventory, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from controller.inventory import Inventory, load_inventory
from controller.secrets import SecretStore
from controller.settings import Settings
from controller.store.db import Store, migrate


@dataclass
class Context:
    settings: Settings
    store: Store
    secrets: SecretStore
    inventory: Inventory
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    @classmethod
    def open(cls, settings: Settings, *, run_migrations: bool = True) -> Context:
        """Load secrets and inventory (raising on any problem), migrate and open the store."""
        secrets = SecretStore.load(settings.resolved_secrets_file())
        inventory = load_inventory(settings.inventory_dir, secrets)
        url = settings.resolved_database_url()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if run_migrations:
            migrate(url)
        return cls(settings=settings, store=Store(url), secrets=secrets, inventory=inventory)

    def close(self) -> None:
        self.store.dispose()
