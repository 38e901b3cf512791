"""The RouterOS model (community.routeros's data), the strict lab router that reads it, and the
driver's plan: what a real router refuses is refused, and a pushed intent stays `unchanged`."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.configs import render_intended_config
from controller.devices import IntentError
from controller.devices import routeros_model as model_mod
from controller.devices.mikrotik_routeros import ERROR_RE, MikrotikRouterOS, parse
from controller.inventory import Inventory, load_inventory
from controller.secrets import SecretStore
from lab.ssh_sim.routeros import RouterOSCli, RouterOSDevice
from lab.ssh_sim.state import DeviceState

ROOT = Path(__file__).resolve().parents[2]
MODEL = model_mod.load()
VERSIONS = [".".join(map(str, v)) for v in MODEL.supported_versions()]


@pytest.fixture
def demo(demo_secrets: Path) -> tuple[Inventory, SecretStore]:
    secrets = SecretStore.load(demo_secrets)
    return load_inventory(ROOT / "inventory", secrets), secrets


def _router(tmp_path: Path, version: str = "7.14.3", name: str = "r1") -> RouterOSCli:
    return RouterOSCli(RouterOSDevice(name, DeviceState(tmp_path, name), version), "admin")


def _run(cli: RouterOSCli, *lines: str) -> list[str]:
    return [cli.handle_line(line) for line in lines]


# --------------------------------------------------------------------------- the model

def test_the_model_is_community_routeros_read_as_data() -> None:
    assert "community.routeros" in MODEL.origin
    assert MODEL.newest >= (7, 20)
    assert VERSIONS[0] == "7.10" and VERSIONS[-1] == ".".join(map(str, MODEL.newest[:2]))
    hotspot = MODEL.menu("/ip hotspot")
    assert hotspot is not None and "comment" not in (hotspot.fields((7, 20)) or {})
    option = MODEL.menu("/ip dhcp-server option")
    assert option is not None
    assert "comment" not in (option.fields((7, 15)) or {})
    assert "comment" in (option.fields((7, 16)) or {})
    identity = MODEL.menu("/system identity")
    assert identity is not None and identity.is_settings((7, 14))
    idle = (MODEL.menu("/ip hotspot") .fields((7, 14)) or {})["idle-timeout"]  # type: ignore[union-attr]
    assert idle.default == "5m" and idle.kind == "duration"


@pytest.mark.parametrize(("raw", "printed"), [
    ("900s", "15m"), ("900", "15m"), ("3600s", "1h"), ("93784s", "1d2h3m4s"), ("7d", "1w"),
    ("1h30m", "1h30m"), ("0s", "0s"), ("none", "none"), ("01:30:00", "1h30m")])
def test_durations_are_printed_as_routeros_prints_them(raw: str, printed: str) -> None:
    assert model_mod.canonical_duration(raw) == printed


def test_definition_order_puts_referenced_menus_first() -> None:
    paths = ["/ip dhcp-server", "/ip hotspot", "/ip hotspot profile", "/ip hotspot user",
             "/ip hotspot user profile", "/ip pool", "/queue simple", "/system logging",
             "/system logging action", "/interface bridge", "/ip address"]
    order = model_mod.definition_order(MODEL, paths)
    for before, after in [("/ip pool", "/ip dhcp-server"), ("/queue simple",
                          "/ip hotspot user profile"), ("/system logging action",
                          "/system logging"), ("/ip hotspot profile", "/ip hotspot"),
                          ("/ip hotspot user profile", "/ip hotspot user"),
                          ("/interface bridge", "/ip address")]:
        assert order.index(before) < order.index(after), (before, after)


def test_unsupported_versions_are_named() -> None:
    assert MODEL.support_error("7.14.3") is None
    assert MODEL.support_error("7.10") is None
    assert "7.10 to 7.20" in (MODEL.support_error("7.9") or "") or MODEL.newest > (7, 20)
    assert MODEL.support_error("6.49.10") and MODEL.support_error("8.0")


# --------------------------------------------------------------------------- the strict lab

def test_the_old_command_forms_are_refused_as_routeros_refuses_them(tmp_path: Path) -> None:
    """Each failure listed at the top of issue 12, as the push used to send it."""
    cli = _router(tmp_path, "7.15.3")
    # Logging rule before its action; comment on /system logging.
    assert _run(cli, "/system logging add action=simpul comment=simpul topics=info") == [
        "expected end of command (line 1 column 35)"]
    assert _run(cli, "/system logging add action=simpul topics=info") == [
        "input does not match any value of action"]
    assert _run(cli, "/system logging add action=nosuchaction topics=info") == [
        "input does not match any value of action"]
    # dhcp-server before its pool; option comment before 7.16.
    out = _run(cli, "/ip dhcp-server add address-pool=simpul-hotspot interface=bridge "
               "name=simpul-hotspot")
    assert out == ["input does not match any value of address-pool"]
    out = _run(cli, '/ip dhcp-server option add code=114 comment="simpul: x" name=simpul-x')
    assert out[0].startswith("expected end of command (line 1 column ")
    # comment= on menus that have none.
    for line in ("/ip hotspot profile add comment=simpul name=simpul-a",
                 "/ip hotspot user profile add comment=simpul name=simpul-a",
                 "/ip hotspot add comment=simpul interface=bridge name=simpul-a"):
        assert _run(cli, line)[0].startswith("expected end of command (line 1 column "), line
    # Parent queue before the queue; profile and interface that do not exist.
    assert _run(cli, "/ip hotspot user profile add name=simpul-a parent-queue=simpul-q") == [
        "input does not match any value of parent-queue"]
    assert _run(cli, "/ip hotspot add interface=bridge name=simpul-a profile=nosuchprofile") == [
        "input does not match any value of profile"]
    assert _run(cli, "/ip address add address=10.0.0.1/24 interface=nosuch") == [
        "input does not match any value of interface"]
    # Bad values where the model knows the type.
    assert _run(cli, "/ip hotspot add interface=bridge name=simpul-b idle-timeout=soon") == [
        "invalid time value for argument idle-timeout"]
    assert _run(cli, "/ip pool add name=simpul-p ranges=10.0.0.2-10.0.0.9 disabled=maybe")[0] \
        .startswith("expected end of command")  # /ip pool has no disabled field
    assert _run(cli, "/ip hotspot user profile add name=simpul-c session-timeout=none") == [
        "invalid time value for argument session-timeout"]
    assert _run(cli, "/ip hotspot user profile add name=simpul-c idle-timeout=none") == [""]
    assert _run(cli, "/ip dns set allow-remote-requests=maybe") == [
        "input does not match any value of allow-remote-requests"]
    # The same, in order and without the missing fields, is accepted.
    assert _run(cli, "/ip pool add comment=simpul name=simpul-hotspot ranges=10.0.0.2-10.0.0.9",
                "/ip dhcp-server add address-pool=simpul-hotspot interface=bridge "
                "name=simpul-hotspot",
                "/system logging action add name=simpul target=remote remote=10.0.0.5",
                "/system logging add action=simpul topics=info") == ["", "", "", ""]


def test_a_field_comes_with_its_version(tmp_path: Path) -> None:
    old, new = _router(tmp_path, "7.15", "old"), _router(tmp_path, "7.16.1", "new")
    line = '/ip dhcp-server option add code=114 comment="simpul: x" name=simpul-x'
    assert _run(old, line)[0].startswith("expected end of command")
    assert _run(new, line) == [""]
    assert "by RouterOS 7.16.1" in new.handle_line("/export")


def test_export_omits_defaults_and_prints_durations_canonically(tmp_path: Path) -> None:
    cli = _router(tmp_path)
    assert _run(cli, "/ip hotspot user profile add idle-timeout=900s name=simpul-a "
                "session-timeout=7200s shared-users=1 add-mac-cookie=yes") == [""]
    export = cli.handle_line("/export")
    line = next(x for x in export.splitlines() if "simpul-a" in x)
    assert line == "add idle-timeout=15m name=simpul-a session-timeout=2h"


# --------------------------------------------------------------------------- the driver

def _push(cli: RouterOSCli, intent: str) -> list[str]:
    from lab.ssh_sim.routeros_files import handle_action, running_config

    platform = MikrotikRouterOS()
    plan = platform.plan(intent, running_config(cli, intent))
    for command in plan.actions:
        output = handle_action(cli, command)
        assert not ERROR_RE.search(output), (command, output)
    return list(plan.actions)


def _model_problems(intent: str, version: model_mod.Version) -> list[str]:
    """Every property of the intent that the model refuses on `version`."""
    config = parse(intent, intent=True)
    problems = []
    entries = [(path, props) for (path, _), props in config.settings.items()]
    entries += [(path, item) for path, items in config.items.items() for item in items]
    for path, props in entries:
        menu = MODEL.menu(path)
        fields = menu.fields(version) if menu else None
        if fields is None:
            problems.append(f"{path}: no such menu")
            continue
        for key, value in props.items():
            info = fields.get(key)
            if info is None or info.read_only:
                problems.append(f"{path} {key}=: no such field")
            elif model_mod.value_error(info, value):
                problems.append(f"{path} {key}={value}: {model_mod.value_error(info, value)}")
    return problems


def test_every_demo_router_renders_valid_commands_on_every_version(demo) -> None:  # type: ignore[no-untyped-def]
    inventory, secrets = demo
    intents = {d.name: render_intended_config(inventory, d, secrets)
               for d in inventory.devices.values() if d.platform == "mikrotik_routeros"}
    for version in MODEL.supported_versions():
        for name, intent in intents.items():
            assert _model_problems(intent, version) == [], (version, name)


def test_one_router_of_each_role_pushes_then_is_unchanged_on_every_version(
        demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Through the strict lab router (references, order, normalisation) on each version."""
    inventory, secrets = demo
    chosen: dict[str, str] = {}
    for device in inventory.devices.values():
        if device.platform == "mikrotik_routeros":
            chosen.setdefault(device.role or "", device.name)
    intents = {name: render_intended_config(inventory, inventory.devices[name], secrets)
               for name in chosen.values()}
    for version in VERSIONS:
        for name, intent in intents.items():
            cli = _router(tmp_path / version, version + ".1", name)
            before = cli.handle_line("/export show-sensitive")
            assert _push(cli, intent), (version, name)
            assert _push(cli, intent) == [], (version, name)
            after = cli.handle_line("/export show-sensitive")
            for line in before.splitlines():  # what Simpul does not manage is untouched
                if "defconf" in line:
                    assert line in after, (version, name)


def test_the_plan_defines_before_it_references_and_removes_in_reverse(
        demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inventory, secrets = demo
    gateway = next(d for d in inventory.devices.values()
                   if d.platform == "mikrotik_routeros" and d.role == "hotspot_gateway")
    intent = render_intended_config(inventory, gateway, secrets)
    cli = _router(tmp_path)
    actions = _push(cli, intent)

    def first(prefix: str) -> int:
        return next(n for n, a in enumerate(actions)
                    if isinstance(a, str) and a.startswith(prefix + " add"))

    assert first("/ip pool") < first("/ip dhcp-server")
    assert first("/queue simple") < first("/ip hotspot user profile")
    assert first("/system logging action") < first("/system logging")
    assert first("/ip hotspot profile") < first("/ip hotspot")
    # Dropping the hotspot: dependents go before what they reference.
    platform = MikrotikRouterOS()
    running = platform.normalise(cli.handle_line("/export show-sensitive"))
    office = next(d for d in inventory.devices.values() if d.role == "office_router")
    removal = platform.plan(render_intended_config(inventory, office, secrets), running).actions
    removes = [a.split(" remove")[0] for a in removals_of(removal)]
    assert removes.index("/ip hotspot") < removes.index("/ip hotspot profile")
    assert removes.index("/ip dhcp-server") < removes.index("/ip pool")
    for command in removal:
        output = cli.handle_line(command)
        assert not ERROR_RE.search(output), (command, output)
    assert platform.plan(render_intended_config(inventory, office, secrets), platform.normalise(
        cli.handle_line("/export show-sensitive"))).empty


def removals_of(actions: list[str]) -> list[str]:
    return [a for a in actions if " remove " in a]


def test_items_without_comment_are_recognised_by_name_and_others_left_alone(
        tmp_path: Path) -> None:
    cli = _router(tmp_path)
    assert _run(cli, "/ip hotspot profile add name=hsprof1",
                "/ip hotspot profile add name=simpul-old") == ["", ""]
    actions = _push(cli, "/ip hotspot profile\nadd name=simpul-new\n")
    assert actions == ["/ip hotspot profile add name=simpul-new",
                       "/ip hotspot profile remove [ find name=simpul-old ]"]
    assert "hsprof1" in cli.handle_line("/export")


@pytest.mark.parametrize("version", ["7.9.2", "6.49.10", "7.99"])
def test_an_unsupported_version_is_refused_before_anything_is_sent(version: str) -> None:
    running = MikrotikRouterOS().normalise(f"# 2026-01-01 10:00:00 by RouterOS {version}\n"
                                           "/system identity\nset name=x\n")
    with pytest.raises(IntentError, match=f"RouterOS {version} is not supported"):
        MikrotikRouterOS().plan("/system identity\nset name=y\n", running)


def test_export_terse_prints_one_whole_line_per_item(tmp_path: Path) -> None:
    cli = _router(tmp_path)
    assert _run(cli, "/ip pool add name=simpul-p ranges=10.0.0.2-10.0.0.9") == [""]
    terse = cli.handle_line("/export terse").splitlines()
    assert "/ip pool add name=simpul-p ranges=10.0.0.2-10.0.0.9" in terse
    assert "/system identity set name=MikroTik" in terse
    assert MikrotikRouterOS().plan("/ip pool\nadd name=simpul-p ranges=10.0.0.2-10.0.0.9\n",
                                   MikrotikRouterOS().normalise("\n".join(terse))).empty
    assert cli.handle_line("/export verbosely").startswith("expected end of command")


def test_hotspot_clients_are_not_logged_back_in_by_cookies(demo) -> None:  # type: ignore[no-untyped-def]
    """Issue 12: an HTTP cookie (login-by=cookie) or a MAC cookie would log a disconnected or
    over-quota client back in; the hotspot uses neither."""
    inventory, secrets = demo
    for device in inventory.devices.values():
        if device.platform != "mikrotik_routeros" or device.role != "hotspot_gateway":
            continue
        config = parse(render_intended_config(inventory, device, secrets), intent=True)
        for profile in config.items["/ip hotspot profile"]:
            assert not {"cookie", "mac-cookie"} & set(profile["login-by"].split(","))
        for profile in config.items["/ip hotspot user profile"]:
            assert profile["add-mac-cookie"] == "no"
