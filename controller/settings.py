"""Every Simpul setting in one place, read from SIMPUL_* environment variables."""

from __future__ import annotations

import ipaddress
import os
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIMPUL_", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Store, backups and runtime state")
    inventory_dir: Path = Field(Path("inventory"), description="The inventory YAML directory")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default is SQLite at <data_dir>/simpul.db"
    )
    store_retry_after_s: int = Field(
        5, ge=1, le=3600, description="Retry-After of the 503 a request gets while the "
        "database is unreachable (a restart, a failover) or a portal login while its gateway is")
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
    job_stalled_after_s: float = Field(
        60.0, ge=1, description="On PostgreSQL: a job whose worker has not sent a heartbeat "
        "for this long is stalled; the sweep resumes it (a push resumes or rolls back)")
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
    # The portal's own DNS name (never an IP literal): its certificate names it, and the
    # RFC 8908 API and DHCP option 114 (RFC 8910) carry https://NAME[:PORT]. A setting, like the
    # certificate it must match, so one portal has one name for every hotspot.
    portal_name: str | None = Field(
        None, description="The portal's DNS name, e.g. portal.wifi.example.go.id; "
        "SIMPUL_PORTAL_URL defaults to https://NAME[:PORT of SIMPUL_PORTAL_TLS_LISTEN]")
    portal_tls_cert: Path | None = Field(
        None, description="PEM certificate chain for the portal's name; with the key, the "
        "portal also listens with HTTPS. A renewed file is picked up without a restart")
    portal_tls_key: Path | None = Field(None, description="PEM private key of that certificate")
    portal_tls_listen: str = Field("0.0.0.0:8443", description="The portal's HTTPS listener")
    portal_gateway: str = Field("inventory", description="'inventory' (each hotspot's adapter) "
                                "or 'memory' (no enforcement: a demo without gateways)")
    portal_demo_hotspot: str | None = Field(
        None, description="Demo only: treat clients outside every hotspot subnet as this one's")
    portal_reap_interval_s: float = Field(10.0, gt=0, description="Accounting and session ends")
    portal_reconcile_interval_s: float = Field(60.0, gt=0)
    # A gateway whose SSH hangs (link down, packets dropped) holds a login this long at most.
    portal_gateway_connect_timeout_s: float = Field(
        10.0, gt=0, description="SSH to a hotspot gateway: TCP connect, banner and auth each")
    portal_gateway_read_timeout_s: float = Field(
        30.0, gt=0, description="SSH to a hotspot gateway: one command's answer")
    portal_gateway_retry_s: float = Field(
        10.0, ge=0, description="A hotspot gateway that could not be reached over SSH counts "
        "as down this long: logins are refused at once (503) instead of each waiting for a "
        "connect timeout; then one caller tries again")
    portal_retention_days: int = Field(90, ge=1, description="Delete ended sessions after it")
    portal_login_rate_per_min: int = Field(10, ge=1, description="Per client, logins and OTP")
    portal_otp_ttl_s: int = Field(300, ge=30)
    portal_otp_max_attempts: int = Field(5, ge=1)
    portal_otp_max_sends_per_hour: int = Field(3, ge=1)
    portal_otp_resend_after_s: int = Field(
        60, ge=0, le=3600, description="The OTP page offers 'Kirim ulang' (resend) after this "
        "many seconds, and the portal refuses a new code for the same number before then")
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
    # RADIUS (adapter radius, issue #19): FreeRADIUS asks the admin app's /api/radius/*
    radius_rest_from: str = Field(
        "127.0.0.1/32,::1/128", description="Addresses (comma-separated networks) that may call "
        "/api/radius/*: the FreeRADIUS hosts. The TCP peer counts (behind a proxy in "
        "SIMPUL_TRUSTED_PROXIES, that proxy's X-Forwarded-For), never a client's own header")
    radius_credential_ttl_s: int = Field(
        120, ge=10, le=3600, description="How long the one-time credential the browser posts "
        "to the NAS stays usable")
    radius_interim_interval_s: int = Field(
        300, ge=60, description="Acct-Interim-Interval sent in Access-Accept: how often the NAS "
        "reports a session's bytes")
    radius_stale_intervals: int = Field(
        3, ge=2, description="A RADIUS session the NAS has not reported for this many interim "
        "intervals is ended by the reconciler")
    radius_listen: str = Field(
        "127.0.0.1", description="Address FreeRADIUS listens on (simpul radius config)")
    radius_auth_port: int = Field(1812, ge=1, le=65535)
    radius_acct_port: int = Field(1813, ge=1, le=65535)
    radius_disconnect_source: str | None = Field(
        None, description="Local address Simpul sends RFC 5176 Disconnect-Requests from. It "
        "must be the address the NAS knows as its RADIUS server (the FreeRADIUS host): "
        "MikroTik takes them only from a /radius server's address. Empty: the OS chooses")
    # Accountability: the command-centre wall and the public page (controller/accountability/)
    public_url: str = Field(
        "", description="Absolute URL where a reverse proxy publishes /publik; the portal's "
        "success page links to it and the gateways let citizens reach it. Empty: no link")
    public_min_count: int = Field(
        10, ge=1, description="Public figures (/publik) hide counts of sessions or devices "
        "below this")
    public_cache_s: float = Field(60.0, ge=1, description="/publik is rendered at most once "
                                  "in this many seconds")
    wall_refresh_s: int = Field(30, ge=5, le=3600, description="How often /wall refreshes")
    map_refresh_s: int = Field(30, ge=2, le=3600,
                               description="How often the dashboard map redraws its statuses")
    alertmanager_url: str = Field(
        "", description="Alertmanager's base URL (e.g. http://127.0.0.1:9093): /wall shows its "
        "firing alerts; empty: the conditions Simpul keeps (devices down, drift, saturated)")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        """SQLite or PostgreSQL (through psycopg): the stores Simpul is tested on."""
        if value and not value.startswith(("sqlite:///", "postgresql://",
                                           "postgresql+psycopg://")):
            scheme = value.split(":", 1)[0]
            raise ValueError(f"database scheme {scheme!r} is not supported: use sqlite:///PATH "
                             "or postgresql+psycopg://USER@HOST/DB")
        return value

    @field_validator("public_url", "alertmanager_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must be an absolute http:// or https:// URL")
        return value

    @field_validator("portal_name")
    @classmethod
    def _portal_name_is_a_dns_name(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return check_portal_name(value)

    @model_validator(mode="after")
    def _portal_url_from_name(self) -> Settings:
        """SIMPUL_PORTAL_URL follows the portal's name unless given; if given, it must name it."""
        if (self.portal_tls_cert is None) != (self.portal_tls_key is None):
            raise ValueError("SIMPUL_PORTAL_TLS_CERT and SIMPUL_PORTAL_TLS_KEY go together")
        if self.portal_name is None:
            return self
        if "portal_url" not in self.model_fields_set:
            self.portal_url = self.portal_https_url() or self.portal_url
        elif (urlsplit(self.portal_url).hostname or "").lower() != self.portal_name:
            raise ValueError(f"SIMPUL_PORTAL_URL {self.portal_url!r} must name the portal by "
                             f"SIMPUL_PORTAL_NAME ({self.portal_name})")
        return self

    def portal_https_url(self) -> str | None:
        """https://NAME[:PORT]: the RFC 8908 API's and user-portal-url's base, or None without
        a portal name."""
        if self.portal_name is None:
            return None
        port = split_listen(self.portal_tls_listen)[1]
        return f"https://{self.portal_name}" + ("" if port == 443 else f":{port}")

    def portal_tls(self) -> tuple[Path, Path] | None:
        """(certificate, key) when the portal serves HTTPS."""
        if self.portal_tls_cert is None or self.portal_tls_key is None:
            return None
        return self.portal_tls_cert, self.portal_tls_key

    @field_validator("radius_disconnect_source")
    @classmethod
    def _source_is_an_address(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError(f"SIMPUL_RADIUS_DISCONNECT_SOURCE {value!r} is not an IP address "
                             "(the local address Disconnect-Requests leave from)") from None

    @field_validator("trusted_proxies", "radius_rest_from")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        for item in _items(value):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    def radius_rest_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(item, strict=False) for item in _items(self.radius_rest_from)]

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


_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def check_portal_name(value: str) -> str:
    """The portal's DNS name, lower-cased; an IP literal or a malformed name is refused
    (RFC 8908 section 2: the API and user-portal-url are https URLs a certificate names)."""
    name = value.strip().rstrip(".").lower()
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        pass
    else:
        raise ValueError(f"{value!r} is an IP address: the portal needs a DNS name for its "
                         "HTTPS URL (RFC 8908), one its certificate names")
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_DNS_LABEL.match(x) for x in labels) \
            or labels[-1].isdigit():
        raise ValueError(f"{value!r} is not a DNS name like portal.wifi.example.go.id")
    return name


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def split_listen(listen: str) -> tuple[str, int]:
    """'127.0.0.1:8000' -> ('127.0.0.1', 8000); '[::1]:8000' -> ('::1', 8000)."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"listen address {listen!r} must look like HOST:PORT")
    return host.strip("[]"), int(port)


class SettingsError(ValueError):
    """A SIMPUL_* environment variable has a value Settings refuses; the message names it."""


def settings_problems(exc: ValidationError) -> str:
    """One line per refused value: `SIMPUL_NAME='value': why` (a value Settings checks as a
    whole, with no single field, is named `settings`)."""
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        name = f"SIMPUL_{field.upper()}" if field else "settings"
        value = os.environ.get(name) if field else None
        hidden = any(word in field for word in ("secret", "token", "password", "key",
                                                "database"))  # a database URL's password
        shown = f"={value!r}" if value is not None and not hidden else ""
        lines.append(f"{name}{shown}: {error['msg']}")
    return "\n".join(lines)


def load_settings() -> Settings:
    """Settings from the environment now; SettingsError names each refused value."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(settings_problems(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """This process's settings (read once)."""
    return load_settings()
