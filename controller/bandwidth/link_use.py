"""The current use of each backbone link, for the map: what the site below the link (and every
site below that one) moved in its latest 5-minute rollup, against the link's capacity.

A site's rollup is its uplink less its downlinks (topology.py), so the traffic that crosses the
link toward a child site is the child's rollup plus those of all its descendants."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from controller.bandwidth.topology import UPLINK, end_roles
from controller.inventory import Inventory, Link


@dataclass(frozen=True)
class LinkUse:
    """`child` is the site the link feeds (for a link of no role, its b end); rates are None
    when no site below was measured."""

    link: Link
    parent: str
    child: str
    down_bps: float | None
    up_bps: float | None

    @property
    def utilisation(self) -> float | None:
        """The busier direction's share of the capacity (0..1, may exceed 1 on a bad rating)."""
        if self.down_bps is None or self.up_bps is None:
            return None
        return max(self.down_bps / self.link.capacity.down_bps,
                   self.up_bps / self.link.capacity.up_bps)


def _below(inventory: Inventory, code: str) -> set[str]:
    """`code` and every site whose parent chain reaches it."""
    children: dict[str, list[str]] = {}
    for site in inventory.sites.values():
        if site.parent:
            children.setdefault(site.parent, []).append(site.code)
    found, todo = set(), [code]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo += children.get(current, [])
    return found


def link_uses(inventory: Inventory, rates: Mapping[str, tuple[float, float]]
              ) -> list[LinkUse]:
    """Each link between two sites, with the use summed from `rates` (site -> latest (in, out)
    bit/s; sites without a recent rollup left out). A link with no uplink end (between sites
    of neither kind) has no use: nothing says which way it feeds."""
    out = []
    for link in inventory.links:
        a, b = (inventory.devices.get(end.device or "") for end in (link.a, link.b))
        if a is None or b is None or a.site == b.site:
            continue
        roles = end_roles(inventory, link)
        parent, child = (b.site, a.site) if roles[0] == UPLINK else (a.site, b.site)
        measured = ([rates[code] for code in _below(inventory, child) if code in rates]
                    if UPLINK in roles else [])
        down = sum(r[0] for r in measured) if measured else None
        up = sum(r[1] for r in measured) if measured else None
        out.append(LinkUse(link, parent, child, down, up))
    return out
