"""HTML pages for citizens: self-contained (no external assets), branded per hotspot."""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from captive_portal.i18n import limits_text, t
from controller.inventory import Hotspot

TEMPLATES = Path(__file__).parent / "templates"
MAX_LOGO_BYTES = 24 * 1024  # keeps every page under 50 KB
LOGO_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg",
              ".jpeg": "image/jpeg", ".webp": "image/webp"}

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                          autoescape=True, undefined=jinja2.StrictUndefined)


@lru_cache(maxsize=64)
def logo_data_uri(inventory_dir: str, logo: str | None) -> str | None:
    """The hotspot's logo inlined as a data: URI, or None (missing, too big, unknown type)."""
    if not logo:
        return None
    base = (Path(inventory_dir) / "branding").resolve()
    path = (base / logo.removeprefix("branding/")).resolve()
    kind = LOGO_TYPES.get(path.suffix.lower())
    if kind is None or base not in path.parents or not path.is_file():
        return None
    data = path.read_bytes()
    if len(data) > MAX_LOGO_BYTES:
        return None
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def render_page(name: str, *, lang: str, hotspot: Hotspot | None, inventory_dir: Path,
                retention_days: int, path: str = "/login", **values: Any) -> str:
    title = hotspot.branding.title if hotspot else "WiFi Publik"
    other = "en" if lang == "id" else "id"
    context = {
        "lang": lang,
        "t": lambda key: t(key, lang),
        "title": title,
        "logo": logo_data_uri(str(inventory_dir), hotspot.branding.logo if hotspot else None),
        "terms": (hotspot.branding.terms_en if lang == "en" else hotspot.branding.terms_id)
        if hotspot else "",
        "toggle_url": f"{path}?lang={other}",
        "privacy": t("privacy", lang).format(days=retention_days),
        # What the hotspot offers, from its inventory: every page states it up front.
        "limits": limits_text(hotspot.session_timeout, hotspot.daily_quota.time,
                              hotspot.daily_quota.bytes, lang) if hotspot else "",
        "error": None,
    }
    context.update(values)
    return _env.get_template(name).render(**context)
