"""Shared set-up for the portal's unit tests: the demo inventory, a store, a fake gateway."""

from __future__ import annotations

from pathlib import Path

from captive_portal.gateways.memory import MemoryGateway
from captive_portal.service import Portal, install_portal
from captive_portal.sms import OutboxSender
from controller.context import Context
from controller.settings import Settings

PORTAL = "http://portal.test"


Gateways = dict[str, MemoryGateway]


def open_portal(tmp_path: Path, inventory: Path, **settings: object) -> tuple[Portal, Gateways]:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data", "inventory_dir": inventory, "portal_url": PORTAL,
        "portal_sms_outbox": tmp_path / "outbox.jsonl",
        # Tests that send several codes to one number test other limits; the resend delay's
        # own tests set it.
        "portal_otp_resend_after_s": 0,
    }
    values.update(settings)
    ctx = Context.open(Settings(**values))  # type: ignore[arg-type]
    gateways: dict[str, MemoryGateway] = {}

    def factory(hotspot):  # type: ignore[no-untyped-def]
        return gateways.setdefault(hotspot.name, MemoryGateway())

    for name in ctx.inventory.hotspots:
        factory(ctx.inventory.hotspots[name])
    portal = Portal(ctx, gateway_factory=factory,
                    sms_sender=OutboxSender(tmp_path / "outbox.jsonl"))
    install_portal(portal)
    return portal, gateways
