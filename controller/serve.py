"""`simpul serve`: one asyncio process with the admin and portal listeners and background loops."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from captive_portal.app import create_portal_app
from captive_portal.service import portal_for
from captive_portal.tasks import gateway_reconciler, session_reaper
from captive_portal.tls import CertificateReloader, certificate_expiry, certificate_watch
from controller.bandwidth.holiday_push import holiday_push_loop
from controller.bandwidth.rollups import rollup_loop
from controller.context import Context
from controller.drift import drift_loop
from controller.inventory.watch import HUP_LISTENERS, inventory_watch
from controller.settings import Settings, split_listen
from controller.web.app import create_admin_app
from controller.web.metrics_app import create_metrics_app
from controller.worker import run_worker, uses_job_queue
from exporters.availability import availability_loop
from exporters.collectors import register_collectors
from exporters.loop import poll_loop, probe_loop

log = logging.getLogger("simpul.serve")

# A background loop runs until cancelled; it must catch and log its own per-item errors.
BackgroundTask = Callable[[Context], Coroutine[Any, Any, None]]
BACKGROUND_TASKS: list[BackgroundTask] = []
BACKGROUND_TASKS += [poll_loop, probe_loop]  # exporters: SNMP poll and ICMP probe loops
BACKGROUND_TASKS += [session_reaper, gateway_reconciler]  # captive portal
BACKGROUND_TASKS += [drift_loop]  # config engine: periodic drift check
BACKGROUND_TASKS += [rollup_loop]  # office bandwidth: rollups fed by the poller
BACKGROUND_TASKS += [holiday_push_loop]  # office bandwidth: holiday pushes at midnight
BACKGROUND_TASKS += [availability_loop]  # accountability: availability runs from probes, polls
# On PostgreSQL a poller keeps only these (its shard's readings); the other loops' rounds are
# periodic jobs that run once across the workers (controller.worker).
POLLER_TASKS: list[BackgroundTask] = [poll_loop, probe_loop, rollup_loop, availability_loop]


def loops_for(ctx: Context, only: str | None) -> list[BackgroundTask]:
    """The background tasks this process runs, besides the inventory watch."""
    if not uses_job_queue(ctx.settings.resolved_database_url()):
        return BACKGROUND_TASKS if only in (None, "poller") else []
    loops = [t for t in BACKGROUND_TASKS if t in POLLER_TASKS] if only in (None, "poller") \
        else []
    return [*loops, run_worker] if only in (None, "worker") else loops


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to `serve`, which owns both listeners."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _tls_server(app: Any, settings: Settings, reloader: CertificateReloader) -> _Server:
    """The portal's HTTPS listener, serving the reloader's TLS context (renewals need no
    restart)."""
    return _server(app, settings.portal_tls_listen, settings,
                   ssl_context_factory=lambda _config, _default: reloader.context)


def _server(app: Any, listen: str, settings: Settings, **extra: Any) -> _Server:
    """A listener. X-Forwarded-For/-Proto count only from SIMPUL_TRUSTED_PROXIES (uvicorn's
    default would believe any local process, letting it pose as any client)."""
    host, port = split_listen(listen)
    proxies = settings.trusted_proxy_list()
    config = uvicorn.Config(app, host=host, port=port, log_level=settings.log_level,
                            access_log=False, lifespan="on", server_header=False,
                            proxy_headers=bool(proxies), forwarded_allow_ips=proxies, **extra)
    return _Server(config)


async def serve(ctx: Context, only: str | None = None) -> None:
    """Run the listeners and loops until SIGINT/SIGTERM. SecretsError before listening if the
    portal cannot be set up (its salt, in production, must be in the secret store)."""
    portal_for(ctx)
    cert = ctx.settings.portal_tls_cert
    register_collectors(ctx, portal=lambda: portal_for(ctx),
                        tls_expiry=(lambda: certificate_expiry(cert)) if cert else None)
    servers: list[_Server] = []
    if only in (None, "admin"):
        servers.append(_server(create_admin_app(ctx), ctx.settings.admin_listen,
                               ctx.settings))
    tls_tasks: list[Coroutine[Any, Any, None]] = []
    if only in (None, "portal"):
        portal_app = create_portal_app(ctx)
        servers.append(_server(portal_app, ctx.settings.portal_listen, ctx.settings))
        tls = ctx.settings.portal_tls()
        if tls is not None:  # HTTPS beside the plain HTTP interception listener
            reloader = CertificateReloader(*tls)
            servers.append(_tls_server(portal_app, ctx.settings, reloader))
            tls_tasks.append(certificate_watch(
                reloader, ctx.settings.inventory_watch_interval_s or 5.0, HUP_LISTENERS))
    if only == "poller":  # its readings live in this process: Prometheus scrapes it here
        servers.append(_server(create_metrics_app(ctx), ctx.settings.admin_listen,
                               ctx.settings))
        log.info("poller shard %s: /metrics on %s", ctx.shard, ctx.settings.admin_listen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    # Every process follows inventory edits; the loops run in the poller (or the one process),
    # and on PostgreSQL the worker (or the one process) runs the queued jobs.
    tasks = [inventory_watch, *loops_for(ctx, only)]
    background = [asyncio.create_task(task(ctx), name=getattr(task, "__name__", "task"))
                  for task in tasks]
    background += [asyncio.create_task(watch, name="certificate_watch") for watch in tls_tasks]
    serving = [asyncio.create_task(s.serve()) for s in servers]
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([waiter, *serving], return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        log.error("a listener stopped unexpectedly; shutting down")
    log.info("stopping")
    for server in servers:
        server.should_exit = True
    for task in background:
        task.cancel()
    await asyncio.gather(*serving, *background, return_exceptions=True)
    waiter.cancel()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
    if waiter not in done:
        raise SystemExit(1)
