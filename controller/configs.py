"""Render a device's intended config from templates/<platform>/<role>.j2, plan and diff it.

Rendering is strict: a missing variable is an error naming template:line and the device.
Every `{{ }}` is written for the device's platform (controller/devices/escape.py): inventory
text is quoted or refused, never a command. Secret values are passed to templates (devices
need them) but masked in anything shown.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import markupsafe
import yaml

from controller.devices import escape
from controller.inventory import Device, Inventory
from controller.inventory.models import RadiusNas
from controller.schedules import hotspot_schedule, local_time, queue_windows
from controller.secrets import SecretsError, SecretStore
from controller.settings import get_settings
from controller.units import format_rate

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TEMPLATES_DIR = ROOT / "templates"
MASK = "********"


class RenderError(Exception):
    """A template problem, as `template:line: device 'name': message`."""


class TargetError(Exception):
    """A TARGET that names nothing, or names something unknown."""


def _host(network: Any, index: int) -> str:
    net = ipaddress.ip_network(str(network))
    return str(net.network_address + index if index >= 0 else net.broadcast_address + index + 1)


def _urlhost(url: str) -> str:
    return urlsplit(url).hostname or url


def _netmask(prefix: str) -> str:
    net = ipaddress.ip_interface(prefix)
    return f"{net.ip} {net.netmask}"


FILTERS = {
    "rate": format_rate,
    "host": _host,
    "urlhost": _urlhost,
    "netmask": _netmask,
    "ros_auth": lambda p: {"SHA": "SHA1"}.get(p, p),
    "ros_priv": lambda p: {"AES256": "AES"}.get(p, p),
}


@lru_cache(maxsize=8)
def _environment(templates_dir: str, platform: str) -> jinja2.Environment:
    env = escape.environment(platform, loader=jinja2.FileSystemLoader(templates_dir))
    env.filters.update(FILTERS)
    return env


@lru_cache(maxsize=8)
def _template_defaults(templates_dir: str) -> dict[str, Any]:
    path = Path(templates_dir) / "defaults.yaml"
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise RenderError(f"{path}:1: template defaults must be a mapping")
    return data


def template_path(device: Device, templates_dir: Path = DEFAULT_TEMPLATES_DIR) -> Path:
    return templates_dir / device.platform / f"{device.role}.j2"


_link_index: dict[int, tuple[list[Any], dict[str, list[dict[str, Any]]]]] = {}


def _links_of(inventory: Inventory, device: Device) -> list[dict[str, Any]]:
    """This device's link ends, from an index built once per inventory."""
    cached = _link_index.get(id(inventory))
    if cached is None or cached[0] is not inventory.links:
        index: dict[str, list[dict[str, Any]]] = {}
        for link in inventory.links:
            for mine, peer in ((link.a, link.b), (link.b, link.a)):
                if mine.device is None:
                    continue
                peer_label = peer.provider or f"{peer.device} {peer.interface}"
                capacity = link.capacity
                index.setdefault(mine.device, []).append({
                    "name": link.label, "interface": mine.interface,
                    "peer": peer.provider or peer.device, "peer_interface": peer.interface,
                    "medium": link.medium, "capacity": capacity,
                    "description": f"{link.medium} to {peer_label} {capacity}",
                })
        cached = (inventory.links, index)
        _link_index.clear()
        _link_index[id(inventory)] = cached
    return [dict(end) for end in cached[1].get(device.name, [])]


def _snmp_of(inventory: Inventory, device: Device, secrets: SecretStore) -> dict[str, Any] | None:
    if not device.snmp:
        return None
    profile = inventory.snmp_profiles[device.snmp]

    def value(name: str | None) -> str | None:
        return secrets.require(name) if name else None

    return {
        "version": profile.version, "username": profile.username,
        "community": value(profile.community_secret),
        "auth_protocol": profile.auth_protocol, "auth_key": value(profile.auth_secret),
        "priv_protocol": profile.priv_protocol, "priv_key": value(profile.priv_secret),
    }


def device_secret_values(inventory: Inventory, device: Device,
                         secrets: SecretStore) -> list[str]:
    """Every secret value a device's config may contain, for masking."""
    names: list[str] = []
    if device.snmp:
        names += inventory.snmp_profiles[device.snmp].secret_names()
    names += inventory.credential_profiles[device.credentials].secret_names()
    names += [h.gateway_login_secret for h in inventory.hotspots.values()
              if h.gateway == device.name and h.adapter == "mikrotik"]
    names += [h.radius.secret for h in inventory.hotspots.values()
              if h.gateway == device.name and h.radius is not None]
    values = [secrets.get(n) for n in names]
    return sorted({v for v in values if v}, key=len, reverse=True)


def mask_secrets(text: str, values: Iterable[str]) -> str:
    for value in values:
        if len(value) >= 4:
            text = text.replace(value, MASK)
    return text


def render_context(inventory: Inventory, device: Device, secrets: SecretStore,
                   templates_dir: Path = DEFAULT_TEMPLATES_DIR,
                   now: datetime | None = None) -> dict[str, Any]:
    """What a device's template sees; `now` (default: the current time) picks the site's
    local date, on which holiday schedule windows depend."""
    site = inventory.site_of(device)
    merged = {**_template_defaults(str(templates_dir)), **site.vars, **device.vars}
    hotspot = next((h for h in inventory.hotspots.values() if h.gateway == device.name), None)
    context: dict[str, Any] = {
        "device": device, "site": site, "vars": merged, "hotspot": hotspot,
        "links": _links_of(inventory, device), "snmp": _snmp_of(inventory, device, secrets),
    }
    if site.schedule:
        # Office queues by schedule window; holiday windows apply on the site's local date.
        today = local_time(site, now or datetime.now(UTC)).date()
        context["site_queues"] = queue_windows(site, inventory, today)
    else:
        context["site_queues"] = []
    if hotspot is not None:
        # The hotspot site's allocation schedule, in force now (see the gateway templates).
        context["hotspot_schedule"] = hotspot_schedule(
            inventory.sites[hotspot.site], f"simpul-hotspot-{hotspot.name}", inventory, now)
    if hotspot is not None:
        # DHCP option 114: the RFC 8908 API by the portal's own name (SIMPUL_PORTAL_NAME).
        from controller.hotspot_gateway import captive_api_url

        portal_https_url = get_settings().portal_https_url()
        context["captive_api_url"] = captive_api_url(portal_https_url)
    if hotspot is not None and device.platform == "linux":
        from controller.hotspot_gateway import gateway_template_context

        context.update(gateway_template_context(hotspot, device, str(merged["portal_url"]),
                                                variables=merged,
                                                portal_https_url=portal_https_url))
    if hotspot is not None and hotspot.adapter == "mikrotik":
        # The hotspot user the portal logs every client in as (/ip hotspot active login).
        context["portal_login"] = {"user": str(merged.get("hotspot_user", "simpul-portal")),
                                   "password": secrets.require(hotspot.gateway_login_secret)}
    if hotspot is not None and hotspot.adapter in ("mikrotik", "radius"):
        context["portal_ports"] = portal_ports(str(merged["portal_url"]),
                                               merged.get("portal_https_port"))
    if hotspot is not None and hotspot.radius is not None:
        context["radius"] = radius_context(hotspot.radius, secrets)
    return context


def radius_context(nas: RadiusNas, secrets: SecretStore) -> dict[str, Any]:
    """A RADIUS NAS's client settings for its template, with the secret's value."""
    return {"server": nas.server, "auth_port": nas.auth_port, "acct_port": nas.acct_port,
            "coa_port": nas.coa_port, "src_address": nas.nas_address,
            "secret": secrets.require(nas.secret)}


def portal_ports(portal_url: str, https_port: Any = None) -> list[int]:
    """The portal's TCP ports as hotspot clients reach them: portal_url's (HTTP) and the HTTPS
    listener's; the only ports a MikroTik walled garden opens to unauthenticated clients."""
    parts = urlsplit(portal_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"portal_url {portal_url!r} must look like http://ADDRESS:PORT")
    ports = {parts.port or (443 if parts.scheme == "https" else 80)}
    if https_port is not None:
        ports.add(int(https_port))
    if not all(0 < port < 65536 for port in ports):
        raise ValueError(f"a portal port is out of range: {sorted(ports)}")
    return sorted(ports)


# MikroTik hotspot pages (templates/mikrotik_routeros/hotspot_pages/*.html) travel with the
# RouterOS intent as `### file: DIR/NAME` sections; the RouterOS platform uploads them (SFTP).
HOTSPOT_PAGES = "hotspot_pages"
HOTSPOT_HTML_DIRECTORY = "simpul"


def render_hotspot_pages(context: dict[str, Any], templates_dir: Path) -> str:
    """The hotspot's own pages as `### file:` sections, HTML-escaped Jinja (RouterOS's own
    $(variables) pass through untouched for the router to fill in)."""
    pages_dir = Path(templates_dir) / "mikrotik_routeros" / HOTSPOT_PAGES
    if not pages_dir.is_dir():
        return ""
    env = _pages_environment(str(templates_dir))
    portal_url = str(context["vars"]["portal_url"]).rstrip("/")
    portal_ports(portal_url)  # refuses anything but http(s)://host[:port]
    out: list[str] = []
    for page in sorted(pages_dir.glob("*.html")):
        if page.name.startswith("_"):
            continue
        template = env.get_template(f"mikrotik_routeros/{HOTSPOT_PAGES}/{page.name}")
        html = template.render(hotspot=context["hotspot"], portal_url=portal_url)
        out += [f"### file: {HOTSPOT_HTML_DIRECTORY}/{page.name}", html.strip("\n")]
    return "\n".join(out) + "\n" if out else ""


def _page_value(value: Any) -> Any:
    """A value in a hotspot page: one line, HTML-escaped, and `$` written `&#36;`, because
    RouterOS reads `$(...)` in a served page as its own variable or `$(if ...)` directive."""
    if isinstance(value, markupsafe.Markup):
        return value
    text = str(markupsafe.escape(" ".join(str(value).split())))
    return markupsafe.Markup(text.replace("$", "&#36;"))


@lru_cache(maxsize=8)
def _pages_environment(templates_dir: str) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              finalize=_page_value)


def _template_frame(exc: BaseException, templates_dir: Path) -> tuple[str, int] | None:
    """The innermost traceback frame inside a template file: (path, line)."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _display(path: str, templates_dir: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


def render_intended_config(inventory: Inventory, device: Device, secrets: SecretStore,
                           templates_dir: Path = DEFAULT_TEMPLATES_DIR) -> str:
    """The config a device should run, or RenderError naming template:line and device."""
    path = template_path(device, templates_dir)
    env = _environment(str(templates_dir), device.platform)
    where = f"device {device.name!r}"
    try:
        template = env.get_template(f"{device.platform}/{device.role}.j2")
    except jinja2.TemplateNotFound as exc:
        missing = exc.name if exc.name != f"{device.platform}/{device.role}.j2" else str(path)
        raise RenderError(f"{_display(str(path), templates_dir)}:1: {where}: no template "
                          f"{missing} for platform {device.platform!r}, role "
                          f"{device.role!r}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"{_display(exc.filename or str(path), templates_dir)}:{exc.lineno}: "
                          f"{where}: template syntax error: {exc.message}") from None
    try:
        context = render_context(inventory, device, secrets, templates_dir)
        text = template.render(**context)
        hotspot = context["hotspot"]
        if device.platform == "mikrotik_routeros" and hotspot is not None \
                and hotspot.adapter in ("mikrotik", "radius"):
            text = text.strip("\n") + "\n" + render_hotspot_pages(context, templates_dir)
    except SecretsError as exc:
        raise RenderError(f"{_display(str(path), templates_dir)}:1: {where}: {exc}") from None
    except jinja2.TemplateError as exc:
        frame = _template_frame(exc, templates_dir)
        file, line = frame if frame else (str(path), 1)
        message = getattr(exc, "message", None) or str(exc)
        raise RenderError(f"{_display(file, templates_dir)}:{line}: {where}: {message}") from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        frame = _template_frame(exc, templates_dir)
        file, line = frame if frame else (str(path), 1)
        raise RenderError(f"{_display(file, templates_dir)}:{line}: {where}: "
                          f"{type(exc).__name__}: {exc}") from None
    return text.strip("\n") + "\n"


def select_devices(inventory: Inventory, names: list[str] | None = None,
                   site: str | None = None, role: str | None = None,
                   all_devices: bool = False) -> list[Device]:
    """Resolve a CLI/API TARGET to devices, in inventory order; unknown names are errors."""
    if not (names or site or role or all_devices):
        raise TargetError("name devices, or use --site CODE, --role ROLE or --all")
    unknown = [n for n in names or [] if n not in inventory.devices]
    if unknown:
        raise TargetError(f"unknown device(s): {', '.join(unknown)}")
    if site and site not in inventory.sites:
        raise TargetError(f"unknown site {site!r}")
    chosen = []
    for device in inventory.devices.values():
        if names and device.name not in names:
            continue
        if site and device.site != site:
            continue
        if role and device.role != role:
            continue
        chosen.append(device)
    if not chosen:
        raise TargetError("the target matches no device")
    return chosen
