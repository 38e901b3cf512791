"""Backbone link use for the map: the child site's latest rollup plus its descendants', against
the link's capacity; the colour class by the busier direction (values written by hand)."""

from __future__ import annotations

import pytest

from controller.bandwidth.link_use import link_uses
from controller.web.pages.netmap import use_class
from tests.conftest import DEMO_INVENTORY


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from controller.inventory.checks import check_inventory

    inv, _ = check_inventory(DEMO_INVENTORY)
    return inv


def test_a_child_sites_use_against_its_1g_link(inventory) -> None:  # type: ignore[no-untyped-def]
    # setda (no children) moves 450M in, 100M out: 45% of noc-dist -- setda-r1 (1G)
    uses = {(u.parent, u.child): u for u in link_uses(inventory, {"setda": (450e6, 100e6)})}
    setda = uses[("noc", "setda")]
    assert (setda.down_bps, setda.up_bps) == (450e6, 100e6)
    assert setda.utilisation == pytest.approx(0.45)
    assert use_class(setda, {}) == "low"
    assert use_class(setda, {"noc": "down"}) == "down"
    setwan = uses[("noc", "setwan")]
    assert setwan.utilisation is None and use_class(setwan, {}) == "none"


def test_classes_at_the_edges(inventory) -> None:  # type: ignore[no-untyped-def]
    def cls(down: float) -> str:
        use = next(u for u in link_uses(inventory, {"setda": (down, 0.0)})
                   if u.child == "setda")
        return use_class(use, {})

    assert [cls(499e6), cls(500e6), cls(799e6), cls(800e6)] == ["low", "busy", "busy", "full"]


def test_a_kecamatan_link_carries_its_desa(inventory) -> None:  # type: ignore[no-untyped-def]
    kecamatan = next(s for s in inventory.sites.values() if s.kind == "kecamatan"
                     and any(d.parent == s.code for d in inventory.sites.values()))
    desa = next(s for s in inventory.sites.values() if s.parent == kecamatan.code)
    rates = {kecamatan.code: (10e6, 1e6), desa.code: (5e6, 2e6)}
    into = [u for u in link_uses(inventory, rates) if u.child == kecamatan.code]
    assert into and (into[0].down_bps, into[0].up_bps) == (15e6, 3e6)
    below = [u for u in link_uses(inventory, rates) if u.child == desa.code]
    assert below and (below[0].down_bps, below[0].up_bps) == (5e6, 2e6)
