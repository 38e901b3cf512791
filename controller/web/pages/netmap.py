"""The dashboard's map as a network (static/map.js): sites by status, backbone links coloured
by their current use, a legend, tooltips in the viewer's language; /map.json refreshes it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from controller.bandwidth.link_use import LinkUse, link_uses
from controller.context import Context
from controller.overview import latest_use, site_statuses
from controller.units import format_bps, format_rate
from controller.web.deps import Viewer, get_ctx, language
from controller.web.i18n import kind_label, translate

router = APIRouter(include_in_schema=False)

# Use classes of a link (the busier direction against its capacity), lowest first.
BUSY, FULL = 0.5, 0.8
LEGEND = (("low", "Link use below 50%"), ("busy", "Link use 50-80%"),
          ("full", "Link use 80% or more"), ("none", "Link without a reading"),
          ("down", "Link with an end down"))
STATUS_LEGEND = (("up", "Up"), ("down", "Down"), ("unknown", "Unknown"))


def use_class(use: LinkUse, statuses: dict[str, str]) -> str:
    if "down" in (statuses.get(use.parent), statuses.get(use.child)):
        return "down"
    ratio = use.utilisation
    if ratio is None:
        return "none"
    return "full" if ratio >= FULL else "busy" if ratio >= BUSY else "low"


def _link_tooltip(use: LinkUse, lang: str) -> str:
    capacity = f"{format_rate(use.link.capacity.down_bps)}/{format_rate(use.link.capacity.up_bps)}"
    if use.down_bps is None or use.up_bps is None or use.utilisation is None:
        return f"{use.link.label} · {capacity} · {translate('No reading yet.', lang)}"
    return (f"{use.link.label} · {translate('Use', lang)}: ↓ {format_bps(use.down_bps)} "
            f"↑ {format_bps(use.up_bps)} · {use.utilisation * 100:.0f}% "
            f"{translate('of capacity', lang)} {capacity}")


def map_data(ctx: Context, lang: str) -> dict[str, Any]:
    """Markers, links and legend, every text in `lang` (inventory names as they are)."""
    inv = ctx.inventory
    statuses: dict[str, str] = dict(site_statuses(ctx))
    markers = []
    for site in inv.sites.values():
        status = statuses.get(site.code, "unknown")
        markers.append({
            "code": site.code, "name": site.name, "kind": site.kind, "lat": site.lat,
            "lon": site.lon, "status": status,
            "tooltip": f"{site.name} · {kind_label(site.kind, lang)} · "
                       f"{translate(status.capitalize(), lang)}"})
    rates = {u.site.code: (u.in_bps, u.out_bps)
             for u in latest_use(ctx, kinds=tuple({s.kind for s in inv.sites.values()}))
             if u.at is not None}
    links = []
    for use in link_uses(inv, rates):
        a, b = inv.sites[use.parent], inv.sites[use.child]
        ratio = use.utilisation
        links.append({"name": use.link.label, "from": [a.lat, a.lon], "to": [b.lat, b.lon],
                      "use": use_class(use, statuses),
                      "utilisation": None if ratio is None else round(ratio, 4),
                      "tooltip": _link_tooltip(use, lang)})
    legend = ([{"kind": "link", "cls": cls, "label": translate(text, lang)}
               for cls, text in LEGEND] +
              [{"kind": "site", "cls": cls, "label": translate(text, lang)}
               for cls, text in STATUS_LEGEND])
    return {"markers": markers, "links": links, "legend": legend,
            "title": translate("Legend", lang)}


@router.get("/map.json")
def map_json(request: Request, _who: Viewer) -> Response:
    """What map.js redraws every refresh: statuses and link use change, the map stays."""
    return JSONResponse(map_data(get_ctx(request), language(request)),
                        headers={"Cache-Control": "no-store"})
