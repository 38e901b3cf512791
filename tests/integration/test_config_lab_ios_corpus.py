"""Real IOS running-configs (tests/data/ios_configs) in the lab: seed, push twice, and nothing
outside the intent is negated or changed.

For each config the lab's noc-core switch is seeded (with `--vlans` where the backup's switch
kept its VLANs in vlan.dat), Simpul pushes its intent (`changed`), pushes again (`unchanged`),
and the device is read before and after as an engineer would read it: every line that went away
was replaced by an intent line of the same single-valued command, every new line is the
intent's, no VLAN of the switch's own is lost, and no `no ...` command was sent at all.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.config_lab import ROOT, Lab, start_demo_lab

pytestmark = pytest.mark.integration

CORPUS = ROOT / "tests" / "data" / "ios_configs"
CONFIGS = sorted(p.name for p in CORPUS.glob("*.cfg"))
# IOS commands that hold one value (IOS replaces the old line): from Cisco's command
# references, written here independently of the driver's own table.
REPLACED_BY_KEY = (
    r"hostname \S+", r"clock timezone .*", r"(no )?aaa new-model", r"snmp-server location .*",
    r"snmp-server contact .*", r"logging trap .*", r"aaa authentication login default .*",
    r"aaa authorization exec default .*",
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = start_demo_lab(tmp_path_factory.mktemp("ios-corpus"))
    yield lab
    lab.stop()


def _templates(lab: Lab, port: str) -> Path:
    """templates/ with noc-core's link ports replaced by one port the seeded device has."""
    templates = lab.root / "corpus-templates"
    if not templates.exists():
        shutil.copytree(ROOT / "templates", templates)
        macro = templates / "_macros" / "cisco_ios.j2"
        macro.write_text(macro.read_text().replace("{%- for link in links %}",
                                                   "{%- for link in vars.corpus_links %}"))
    defaults = templates / "defaults.yaml"
    data = yaml.safe_load((ROOT / "templates" / "defaults.yaml").read_text())
    data["corpus_links"] = [{"interface": port, "description": "fiber to noc-dist 10G"}]
    defaults.write_text(yaml.safe_dump(data))
    return templates


def _read(lab: Lab) -> tuple[list[str], dict[int, str]]:
    """The switch as an engineer reads it: running-config blocks (a line with its sub-lines;
    a banner whole), and the VLANs of `show vlan brief`."""
    conn = lab.connect("noc-core")
    try:
        conn.enable()
        running = conn.send_command("show running-config", read_timeout=60)
        brief = conn.send_command("show vlan brief")
    finally:
        conn.disconnect()
    blocks: list[str] = []
    banner = None
    for line in running.splitlines():
        if banner:
            blocks[-1] += "\n" + line
            banner = None if line.endswith(banner) else banner
            continue
        if not line.strip() or line.startswith(("!", "Building configuration",
                                                "Current configuration", "end")):
            continue
        if line.startswith((" ", "\t")) and blocks:
            blocks[-1] += "\n" + line.rstrip()
            continue
        blocks.append(" ".join(line.split()))
        m = re.match(r"^banner \S+ (\^C|\S)", line)
        if m and not line[m.end():].endswith(m[1]):
            banner = m[1]
    vlans = {int(m[1]): m[2] for m in re.finditer(r"^(\d+)\s+(\S+)\s+(active|act/)", brief,
                                                   re.M)}
    return blocks, vlans


def _first_port(config: str) -> str:
    m = re.search(r"^interface ((Gigabit|Fast)Ethernet[\d/]+)$", config, re.M)
    assert m, "the config has no Ethernet port"
    return m[1]


@pytest.mark.parametrize("name", CONFIGS)
def test_corpus_config_push_touches_only_the_intent(lab: Lab, name: str) -> None:
    from lab.ssh_sim.state import read_command_log

    config = (CORPUS / name).read_text()
    vlans_file = (CORPUS / name).with_suffix(".vlans")
    vlans = ["--vlans", str(vlans_file)] if vlans_file.exists() else []
    seeded = lab.simpul("lab", "seed", "noc-core", str(CORPUS / name), *vlans)
    assert seeded.returncode == 0, seeded.stderr
    (lab.root / "data" / "backups" / "noc-core.intent").unlink(missing_ok=True)
    env = {"SIMPUL_TEMPLATES_DIR": str(_templates(lab, _first_port(config)))}
    rendered = lab.simpul("config", "render", "noc-core", env=env)
    assert rendered.returncode == 0, rendered.stderr
    intent = [" ".join(line.split()) for line in rendered.stdout.splitlines() if line.strip()]
    before, vlans_before = _read(lab)
    sent_before = len(read_command_log(lab.state_dir, "noc-core"))

    code, rows = lab.json_lines("config", "push", "noc-core", "--yes", "--json", env=env)
    assert code == 0 and rows[0]["status"] == "changed", rows
    code, rows = lab.json_lines("config", "push", "noc-core", "--yes", "--json", env=env)
    assert code == 0 and rows[0]["status"] == "unchanged", rows

    after, vlans_after = _read(lab)
    sent = read_command_log(lab.state_dir, "noc-core")[sent_before:]
    assert not [c for c in sent if c.startswith("no ")], sent
    intent_forms = set(intent) | {re.sub(r"^logging host ", "logging ", x) for x in intent}
    for block in set(before) - set(after):
        head, *children = block.split("\n")
        if head in intent:  # the intent's own section (its port): only its lines change
            now = next(b for b in after if b.split("\n")[0] == head).split("\n")
            gone = [" ".join(c.split()) for c in children if c not in now]
            assert all(line.split()[0] in {x.split()[0] for x in intent} for line in gone), \
                f"{name}: {gone!r} removed from {head!r}"
            continue
        assert not children, f"{name}: {block!r} changed"
        assert any(re.fullmatch(key, head) for key in REPLACED_BY_KEY), \
            f"{name}: {head!r} was removed"
    for block in set(after) - set(before):
        lines = [" ".join(x.split()) for x in block.split("\n")]
        assert lines[0] in intent_forms or lines[0] in intent, f"{name}: {block!r} is new"
    for vlan, vname in vlans_before.items():
        assert vlan in vlans_after, f"{name}: VLAN {vlan} {vname} lost"
        if f"vlan {vlan}" not in intent:
            assert vlans_after[vlan] == vname, f"{name}: VLAN {vlan} renamed"


def test_lab_seed_refuses_an_unsupported_ios_naming_file_and_line(lab: Lab,
                                                                  tmp_path: Path) -> None:
    bad = tmp_path / "old.cfg"
    bad.write_text((CORPUS / "ios124-router-foo.cfg").read_text().replace(
        "version 12.4", "version 11.3", 1))
    before = (lab.state_dir / "ssh_sim" / "noc-core.json").read_bytes() \
        if (lab.state_dir / "ssh_sim" / "noc-core.json").exists() else None
    done = lab.simpul("lab", "seed", "noc-core", str(bad))
    assert done.returncode == 1
    assert f"{bad}:2: IOS 11.3" in done.stderr, done.stderr
    after = (lab.state_dir / "ssh_sim" / "noc-core.json").read_bytes() \
        if (lab.state_dir / "ssh_sim" / "noc-core.json").exists() else None
    assert after == before
