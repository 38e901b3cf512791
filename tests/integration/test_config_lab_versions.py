"""`simpul config push --all` against the demo lab, whose RouterOS devices run every supported
RouterOS release (inventory vars.routeros_version): the strict simulator accepts every
command, and a second push is all `unchanged`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controller.devices import routeros_model
from tests.integration.config_lab import Lab, start_demo_lab

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("config-lab-versions")
    lab = start_demo_lab(tmp)
    # The demo's hospital and disaster agency are protected: a push touching them waits for a
    # second operator (four eyes, tested in test_config_push_safe.py). Here every device
    # must be pushed by one command, so this copy of the inventory drops the flag.
    sites = lab.root / "inventory" / "sites.yaml"
    text = sites.read_text()
    assert "protected: true" in text
    sites.write_text(text.replace("protected: true", "protected: false"))
    yield lab
    lab.stop()


def test_push_all_then_all_unchanged_on_every_supported_version(lab: Lab) -> None:
    from controller.inventory import check_inventory

    inventory, _ = check_inventory(lab.root / "inventory")
    versions = {str(d.vars.get("routeros_version", "7.14.3"))[:4].rstrip(".")
                for d in inventory.devices.values() if d.platform == "mikrotik_routeros"}
    supported = {".".join(map(str, v)) for v in routeros_model.load().supported_versions()}
    assert supported <= versions, sorted(supported - versions)

    code, rows = lab.json_lines("config", "push", "--all", "--yes", "--json")
    failed = [(r["device"], r["error"]) for r in rows if r["status"] == "failed"]
    assert code == 0 and not failed, failed
    assert len(rows) == len(inventory.devices)
    code, rows = lab.json_lines("config", "push", "--all", "--yes", "--json")
    assert code == 0
    assert [r for r in rows if r["status"] != "unchanged"] == []
