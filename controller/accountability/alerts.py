"""The alerts the wall shows: firing alerts from Alertmanager's API when SIMPUL_ALERTMANAGER_URL
is set, else the conditions Simpul already keeps (devices down, config drift, offices at their
allocation). No rule engine: Prometheus evaluates deploy/prometheus/simpul-rules.yml."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import select

from controller.context import Context
from controller.overview import device_status, latest_use
from controller.store.models import ConfigDrift

log = logging.getLogger("simpul.alerts")
SATURATED_NOW = 0.9  # an office's latest 5 minutes at 90% of its allocation or more
ALERTMANAGER_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str  # critical | warning | info
    summary: str
    since: datetime | None = None


@dataclass(frozen=True)
class AlertList:
    alerts: list[Alert]
    source: str  # alertmanager | simpul
    error: str | None = None  # Alertmanager did not answer: the list is Simpul's own


def active_alerts(ctx: Context) -> AlertList:
    """Critical first, then by name."""
    url = ctx.settings.alertmanager_url
    if url:
        try:
            found = alertmanager_alerts(url)
            return AlertList(_ordered(found), "alertmanager")
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("alertmanager %s did not answer: %s", url, exc)
            return AlertList(_ordered(store_conditions(ctx)), "simpul",
                             error=f"Alertmanager tidak menjawab ({type(exc).__name__})")
    return AlertList(_ordered(store_conditions(ctx)), "simpul")


def alertmanager_alerts(base_url: str) -> list[Alert]:
    """Active, unsilenced, uninhibited alerts from Alertmanager's API v2 (GET /api/v2/alerts)."""
    response = httpx.get(base_url.rstrip("/") + "/api/v2/alerts",
                         params={"active": "true", "silenced": "false", "inhibited": "false"},
                         timeout=ALERTMANAGER_TIMEOUT_S)
    response.raise_for_status()
    found = []
    for item in response.json():
        labels, notes = item["labels"], item.get("annotations") or {}
        started = item.get("startsAt")
        found.append(Alert(labels.get("alertname", "?"), labels.get("severity", "warning"),
                           notes.get("summary") or labels.get("alertname", ""),
                           datetime.fromisoformat(started.replace("Z", "+00:00"))
                           if started else None))
    return found


def store_conditions(ctx: Context) -> list[Alert]:
    """Simpul's own status: devices down, drifted configs, offices at their allocation now."""
    found = []
    for name, status in device_status(ctx).items():
        if status == "down":
            site = ctx.inventory.devices[name].site
            found.append(Alert("Perangkat mati", "critical", f"{name} ({site}) tidak menjawab"))
    with ctx.store.session() as session:
        drifted = session.scalars(select(ConfigDrift.device)
                                  .where(ConfigDrift.status == "drifted")).all()
    for name in sorted(drifted):
        found.append(Alert("Konfigurasi berubah", "warning",
                           f"{name}: konfigurasi berjalan berbeda dari yang dimaksud"))
    for use in latest_use(ctx, kinds=("sopd",)):
        if use.at is not None and use.ratio >= SATURATED_NOW:
            found.append(Alert("Kantor jenuh", "warning",
                               f"{use.site.name}: {use.ratio:.0%} dari alokasi"))
    return found


def _ordered(alerts: list[Alert]) -> list[Alert]:
    rank = {"critical": 0, "warning": 1}
    return sorted(alerts, key=lambda a: (rank.get(a.severity, 2), a.name, a.summary))
