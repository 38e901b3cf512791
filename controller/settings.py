"""Every Simpul setting in one place, read from SIMPUL_* environment variables."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIMPUL_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Store, backups and runtime state")
    inventory_dir: Path = Field(Path("inventory"), description="The inventory YAML directory")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default is SQLite at <data_dir>/simpul.db"
    )
    secrets_file: Path | None = Field(
        None, description="YAML mapping of secret name to value; must not be readable by others"
    )
    admin_listen: str = Field("127.0.0.1:8000", description="Engineers' UI, API and /metrics")
    portal_listen: str = Field("0.0.0.0:8080", description="Captive portal for citizens")
    trusted_proxies: str = Field(
        "", description="Comma-separated addresses or networks of the reverse proxies whose "
        "X-Forwarded-For/-Proto are believed, on every listener; empty: none, the client is "
        "the TCP peer")
    allowed_hosts: str = Field(
        "", description="Comma-separated Host names (or *.domain) the admin listener answers, "
        "against DNS rebinding; '*' allows any. localhost, 127.0.0.1, ::1 and the "
        "SIMPUL_ADMIN_LISTEN address are always allowed. The portal answers any Host")
    api_token_lifetime_days: int = Field(
        90, ge=1, le=3650, description="Default lifetime of a new API token (chosen per token)")
    admin_max_body_bytes: int = Field(1024 * 1024, ge=1024,
                                      description="Largest request body on the admin listener")
    portal_max_body_bytes: int = Field(4096, ge=1024,
                                       description="Largest request body on the portal listener")
    log_level: str = "info"
    map_tile_url: str = Field(
        "", description="Leaflet tile URL template for the dashboard map; empty draws no tiles"
    )
    secure_cookies: bool | None = Field(
        None, description="Mark session cookies Secure; default: when the request is HTTPS"
    )
    push_concurrency: int = Field(20, ge=1, le=500)
    push_stale_after_s: float = Field(
        60.0, ge=4, description="A running push whose process has not touched it for this long "
        "shows as interrupted")
    inventory_watch_interval_s: float = Field(
        5.0, ge=0, description="How often serve looks for inventory or secrets file changes "
        "(0: only on SIGHUP)")
    drift_interval_s: float = Field(900.0, ge=0, description="0 disables the drift check")
    schedule_push: bool = Field(True, description="Push holiday schedules at local midnight")
    templates_dir: Path = Field(Path(__file__).resolve().parents[1] / "templates",
                                description="Device config templates, <platform>/<role>.j2")
    poll_interval_s: float = Field(60.0, gt=0)
    snmp_timeout_s: float = Field(2.0, gt=0, description="Per SNMP request, before a retry")
    snmp_retries: int = Field(1, ge=0, le=10)
    snmp_concurrency: int = Field(64, ge=1, le=2000, description="Devices polled at once")
    snmp_names_refresh_cycles: int = Field(10, ge=1, description="Re-read ifName/ifAlias")
    snmp_max_repetitions: int = Field(25, ge=1, le=200)
    probe_interval_s: float = Field(30.0, ge=0, description="0 disables ICMP probes")
    probe_count: int = Field(3, ge=1, le=20, description="ICMP echoes per device and cycle")
    down_after_samples: int = Field(
        3, ge=1, le=100, description="A link or site is down after this many consecutive "
        "samples with every probe lost or its uplink interface down (availability, SLA)")
    probe_timeout_s: float = Field(1.0, gt=0)
    # Captive portal (captive_portal/)
    portal_url: str = Field("http://127.0.0.1:8080",
                            description="The portal as citizens reach it (walled garden)")
    portal_gateway: str = Field("inventory", description="'inventory' (each hotspot's adapter) "
                                "or 'memory' (no enforcement: a demo without gateways)")
    portal_demo_hotspot: str | None = Field(
        None, description="Demo only: treat clients outside every hotspot subnet as this one's")
    portal_reap_interval_s: float = Field(10.0, gt=0, description="Accounting and session ends")
    portal_reconcile_interval_s: float = Field(60.0, gt=0)
    portal_retention_days: int = Field(90, ge=1, description="Delete ended sessions after it")
    portal_login_rate_per_min: int = Field(10, ge=1, description="Per client, logins and OTP")
    portal_otp_ttl_s: int = Field(300, ge=30)
    portal_otp_max_attempts: int = Field(5, ge=1)
    portal_otp_max_sends_per_hour: int = Field(3, ge=1)
    portal_sms_sender: str = Field("outbox", description="'outbox' (a file) or 'webhook'")
    portal_sms_outbox: Path | None = Field(None, description="Default <data_dir>/sms-outbox.jsonl")
    portal_sms_webhook_url: str | None = None
    portal_sms_outbox_retention_days: int = Field(
        7, ge=1, description="Outbox lines older than this are dropped; codes in it are masked "
        "once they expire")
    # SMS budgets (each SMS costs money, and a number may be bombed): per device (its MAC), per
    # hotspot and for the whole portal, per clock hour and day.
    portal_sms_per_device_per_hour: int = Field(5, ge=1)
    portal_sms_per_device_per_day: int = Field(10, ge=1)
    portal_sms_per_hotspot_per_hour: int = Field(100, ge=1)
    portal_sms_per_hotspot_per_day: int = Field(500, ge=1)
    portal_sms_per_hour: int = Field(500, ge=1, description="All hotspots together")
    portal_sms_per_day: int = Field(2000, ge=1, description="All hotspots together")
    portal_salt_file_allowed: bool = Field(
        True, description="Without the secret portal_salt, create and use <data_dir>/portal-salt "
        "(the demo). Set false in production: the salt then lives only in the secret store")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        for item in _items(value):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    def trusted_proxy_list(self) -> list[str]:
        return _items(self.trusted_proxies)

    def allowed_host_list(self) -> list[str]:
        """The Host names the admin listener answers: the setting, loopback names and the
        address it listens on (unless that is a wildcard address)."""
        hosts = ["localhost", "127.0.0.1", "::1", *_items(self.allowed_hosts.lower())]
        listen_host = split_listen(self.admin_listen)[0].lower()
        if listen_host not in ("0.0.0.0", "::", ""):
            hosts.append(listen_host)
        return list(dict.fromkeys(hosts))

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'simpul.db').resolve()}"

    def ensure_data_dir(self) -> Path:
        """Create the data directory owner-only (0700) whatever the umask, and tighten an old
        one: it holds the store, secrets, the portal's salt and backups."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            os.chmod(self.data_dir, 0o700)
        except PermissionError:  # not ours (a directory an operator prepared): leave it
            pass
        return self.data_dir

    def resolved_secrets_file(self) -> Path | None:
        if self.secrets_file is not None:
            return self.secrets_file
        default = self.data_dir / "secrets.yaml"
        return default if default.exists() else None


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def split_listen(listen: str) -> tuple[str, int]:
    """'127.0.0.1:8000' -> ('127.0.0.1', 8000); '[::1]:8000' -> ('::1', 8000)."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"listen address {listen!r} must look like HOST:PORT")
    return host.strip("[]"), int(port)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
