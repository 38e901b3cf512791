"""The running portal: its shared dependencies and its rooms, one per job.

Pages, the admin UI, the CLI and the background loops reach an operation through a room:
`portal.login` (who is asking, logins, one-time codes), `portal.accounting` (counters, the
reaper, disconnects, retention), `portal.reconciler`, `portal.radius` (what FreeRADIUS
asks), `portal.stats`, `portal.vouchers`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from captive_portal.accounting import Accounting
from captive_portal.gateways.base import GatewayAdapter
from captive_portal.gateways.pool import GatewayPool
from captive_portal.login import Login
from captive_portal.privacy import load_salt
from captive_portal.radius import RadiusLogins
from captive_portal.reconcile import Reconciler
from captive_portal.sessions import hotspot_timezone
from captive_portal.sms import SmsSender, configured_sender
from captive_portal.stats import PortalStats
from captive_portal.vouchers import VoucherBatches
from controller.context import Context
from controller.inventory import Hotspot


class Portal:
    def __init__(self, ctx: Context, *, sms_sender: SmsSender | None = None,
                 gateway_factory: Callable[[Hotspot], GatewayAdapter] | None = None):
        self.ctx = ctx
        self.store = ctx.store
        self.gateways = GatewayPool(ctx, gateway_factory)
        salt = load_salt(ctx.secrets, ctx.settings.data_dir,
                         file_allowed=ctx.settings.portal_salt_file_allowed)
        sms = sms_sender or configured_sender(ctx.settings, ctx.secrets)
        self.login = Login(ctx, self.gateways, salt, sms)
        self.accounting = Accounting(ctx, self.gateways, sms)
        self.reconciler = Reconciler(ctx, self.gateways)
        self.radius = RadiusLogins(ctx, salt)
        self.gateways.identify = self.radius.identify  # Disconnect-Request's session names
        self.stats = PortalStats(ctx.store, lambda name: hotspot_timezone(ctx, name))
        self.vouchers = VoucherBatches(ctx)

    def close(self) -> None:
        self.gateways.close()


_CREATE_LOCK = threading.Lock()


def portal_for(ctx: Context) -> Portal:
    """The one Portal of a running Context (created on first use, kept on `ctx.portal`)."""
    with _CREATE_LOCK:
        if ctx.portal is None:
            ctx.portal = Portal(ctx)
        portal: Portal = ctx.portal
        return portal


def install_portal(portal: Portal) -> None:
    """Use this Portal for its Context (tests give it a fake gateway or SMS sender)."""
    with _CREATE_LOCK:
        portal.ctx.portal = portal
