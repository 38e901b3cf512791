"""Inventory text never becomes a device command: the inventory refuses control characters,
every template value is escaped for its platform, and the RouterOS parsers keep quotes whole."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from controller.configs import RenderError, render_intended_config
from controller.devices import IntentError, escape
from controller.devices.mikrotik_routeros import ERROR_RE, MikrotikRouterOS, parse, quote, unquote
from controller.inventory import Inventory, check_inventory, load_inventory
from controller.secrets import SecretStore
from lab.ssh_sim import routeros as lab_routeros
from lab.ssh_sim.routeros_files import handle_action, running_config
from lab.ssh_sim.state import DeviceState

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
# One value trying every way out: quotes, line breaks, RouterOS/IOS/dnsmasq/nft commands,
# variables, command substitution, the console's help key, escapes and non-ASCII.
PAYLOAD = ('x" \n/user add name=backdoor group=full comment=simpul\r\n'
           "username backdoor privilege 15 secret 0 x\naddress=/#/6.6.6.6\n"
           "; flush ruleset # $(y) $z [/system reboot] \\ ? \t\u00e9 \u2028end")
INJECTED = re.compile(r"^\s*(/user|add name=backdoor|username backdoor|address=/#/|; flush)",
                      re.M)
# Free-text fields of the inventory models (identifiers and references are patterned or
# cross-checked, so they cannot carry text).
TEXT_FIELDS = {
    "Site": {"name", "address"}, "Contact": {"name", "phone", "email"},
    "Hotspot": {"ssid"}, "Branding": {"title", "terms_id", "terms_en"},
    "Link": {"name"}, "LinkEnd": {"provider"}, "Holiday": {"name"},
}
# Fields that templates write as words (interface and user names), and template variables.
WORD_FIELDS = {"LinkEnd": {"interface"}, "SnmpProfile": {"username"},
               "CredentialProfile": {"username"}}
POISONED_VARS = {"lan_interface": PAYLOAD, "hotspot_interface": PAYLOAD,
                 "client_interface": PAYLOAD, "hotspot_user": PAYLOAD,
                 "vlans": {10: PAYLOAD}, "ntp_servers": [PAYLOAD]}


@pytest.fixture
def demo(demo_secrets: Path) -> tuple[Inventory, SecretStore]:
    secrets = SecretStore.load(demo_secrets)
    return load_inventory(ROOT / "inventory", secrets), secrets


def _poison(model: Any, fields: dict[str, set[str]]) -> Any:
    """The model with every named string field set to PAYLOAD, bypassing validation (the
    inventory would refuse it: this tests the templates' own escaping)."""
    if not isinstance(model, BaseModel):
        return model
    chosen = fields.get(type(model).__name__, set())
    update: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if name in chosen and isinstance(value, str):
            update[name] = PAYLOAD
        elif isinstance(value, BaseModel):
            update[name] = _poison(value, fields)
    return model.model_copy(update=update)


def _poisoned(inventory: Inventory, fields: dict[str, set[str]],
              variables: dict[str, Any] | None = None) -> Inventory:
    def each(items: dict[str, Any]) -> dict[str, Any]:
        return {key: _poison(item, fields) for key, item in items.items()}

    sites = each(inventory.sites)
    if variables:
        sites = {code: site.model_copy(update={"vars": {**site.vars, **variables}})
                 for code, site in sites.items()}
    return Inventory(
        sites=sites, devices=dict(inventory.devices),
        links=[_poison(link, fields) for link in inventory.links],
        hotspots=each(inventory.hotspots),
        credential_profiles=each(inventory.credential_profiles),
        snmp_profiles=each(inventory.snmp_profiles), holidays=each(inventory.holidays),
        locations=inventory.locations)


def _first_words(text: str) -> list[str]:
    return [(line.split() or [""])[0] for line in text.splitlines()]


def _assert_same_shape(clean: str, dirty: str, platform: str, name: str) -> None:
    """No line was added or turned into another command, and nothing injected appears."""
    assert len(dirty.splitlines()) == len(clean.splitlines()), name
    # Files after the config (a MikroTik hotspot's HTML pages) hold text, not commands.
    clean_config, dirty_config = (text.split("\n### file: ")[0] for text in (clean, dirty))
    assert _first_words(dirty_config) == _first_words(clean_config), name
    assert not INJECTED.search(dirty), name
    if platform == "mikrotik_routeros" and "\n### file: " in dirty:  # RouterOS would fill in
        assert "$(y)" not in dirty.split("\n### file: ", 1)[1], name  # a $(...) in a page
    if platform == "mikrotik_routeros":
        want, got = parse(clean, intent=True), parse(dirty, intent=True)
        assert {k: sorted(v) for k, v in got.settings.items()} == {
            k: sorted(v) for k, v in want.settings.items()}, name
        assert {p: [sorted(i) for i in items] for p, items in got.items.items()} == {
            p: [sorted(i) for i in items] for p, items in want.items.items()}, name


def test_poisoned_text_renders_escaped_on_every_platform(demo) -> None:  # type: ignore[no-untyped-def]
    inventory, secrets = demo
    dirty = _poisoned(inventory, TEXT_FIELDS)
    for device in inventory.devices.values():
        clean_text = render_intended_config(inventory, device, secrets)
        dirty_text = render_intended_config(dirty, device, secrets)
        _assert_same_shape(clean_text, dirty_text, device.platform, device.name)
    # The text itself survives where it is quoted: RouterOS reads back exactly the payload.
    border = render_intended_config(dirty, inventory.devices["noc-border"], secrets)
    snmp = parse(border, intent=True).settings[("/snmp", "")]
    assert snmp["location"] == PAYLOAD and snmp["contact"] == PAYLOAD
    nat = parse(border, intent=True).managed("/ip firewall nat")
    assert nat[0]["comment"] == "simpul: NAT via " + PAYLOAD
    # IOS has no quoting: the text stays one line of printable ASCII without the help key.
    core = render_intended_config(dirty, inventory.devices["noc-core"], secrets)
    location = next(line for line in core.splitlines() if line.startswith("snmp-server loc"))
    assert re.fullmatch(r"[ -~]+", location) and "?" not in location
    assert "username backdoor" in location  # kept as text, on the location's own line


def test_poisoned_words_are_quoted_or_refused(demo) -> None:  # type: ignore[no-untyped-def]
    inventory, secrets = demo
    dirty = _poisoned(inventory, {**TEXT_FIELDS, **WORD_FIELDS}, POISONED_VARS)
    poisoned_secrets = SecretStore({name: PAYLOAD for name in inventory.secret_names()}, {})
    rendered = refused = 0
    for device in inventory.devices.values():
        clean_text = render_intended_config(inventory, device, secrets)
        try:
            dirty_text = render_intended_config(dirty, device, poisoned_secrets)
        except RenderError as exc:
            # IOS and Linux refuse a word they cannot write; the message never shows it.
            assert device.platform != "mikrotik_routeros", exc
            assert f"device {device.name!r}" in str(exc) and "backdoor" not in str(exc)
            refused += 1
            continue
        _assert_same_shape(clean_text, dirty_text, device.platform, device.name)
        rendered += 1
    assert rendered and refused


def test_quoted_payload_goes_through_the_lab_router_unchanged(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The RouterOS simulator, following MikroTik's manual, reads our quoting back exactly,
    and its /export (\\XX for non-ASCII, \\? \\$) reads back the same: a second plan is empty."""
    inventory, secrets = demo
    dirty = _poisoned(inventory, TEXT_FIELDS)
    platform = MikrotikRouterOS()
    for name in ("noc-border", "alun-alun-gw", "setda-r1"):
        intent = render_intended_config(dirty, inventory.devices[name], secrets)
        device = lab_routeros.RouterOSDevice(name, DeviceState(tmp_path, name))
        cli = lab_routeros.RouterOSCli(device, "admin")
        for command in platform.plan(intent, "").actions:
            output = handle_action(cli, command)
            assert not ERROR_RE.search(output), (command, output)
        running = running_config(cli, intent)
        assert '\\C3\\A9' in running and "\\?" in running and "\\$" in running
        assert platform.plan(intent, running).actions == [], name


@pytest.mark.parametrize("value", [PAYLOAD, "", "plain-1.2/3", "Caf\u00e9 \u2013", "$x", "a?b",
                                   'back\\slash"quote', "\x01\x7f"])
def test_routeros_quote_round_trips(value: str) -> None:
    quoted = quote(value)
    assert "\n" not in quoted and "\r" not in quoted and quoted.isascii()
    assert unquote(quoted) == value
    assert lab_routeros.unquote(quoted) == value and lab_routeros.quote(value) == quoted
    assert re.search(r'(?<!\\)[$?]', quoted[1:-1] if quoted.startswith('"') else "") is None


def test_routeros_quote_follows_the_manual() -> None:
    assert quote("a b") == '"a b"'
    assert quote('say "hi" $x ?') == '"say \\"hi\\" \\$x \\?"'
    assert quote("\u00e9\n") == '"\\C3\\A9\\n"'
    assert unquote('"\\48\\45\\4C\\4C\\4F\\_\\t"') == "HELLO \t"


def test_intent_parser_refuses_an_unterminated_quote() -> None:
    with pytest.raises(IntentError, match=r"line 2: unterminated quote"):
        parse('/snmp\nset contact="a=b location=x\n', intent=True)  # once read as 3 words
    with pytest.raises(IntentError, match=r"line 2: unbalanced \[ \]"):
        parse("/ip address\nset [ find comment=x\n")
    with pytest.raises(IntentError, match=r"not key=value"):
        parse("/snmp\nset contact;/user=x\n", intent=True)


def test_every_platform_escapes_every_value() -> None:
    """Any `{{ }}` of any platform's templates is written safely, without a filter."""
    for platform in escape.FINALIZE:
        env = escape.environment(platform)
        try:
            text = env.from_string("{{ value }}").render(value=PAYLOAD)
        except ValueError:
            continue  # refused: IOS words and Linux tokens
        assert platform == "mikrotik_routeros"
        assert text == quote(PAYLOAD) and "\n" not in text
    assert escape.environment("cisco_ios").from_string("{{ v }}").render(v="Gi1/0/1") == "Gi1/0/1"
    assert escape.environment("linux").from_string("{{ v }}").render(v="10.0.0.0/8") == "10.0.0.0/8"
    # Filters write text for their place; a macro's output is marked safe, nothing else is.
    ios = escape.environment("cisco_ios")
    assert ios.from_string("{{ v | ios_text }}").render(v=PAYLOAD).count("\n") == 0
    linux = escape.environment("linux")
    assert linux.from_string("{{ v | conf_comment }}").render(v=PAYLOAD).count("\n") == 0
    for name in ("nft_string", "dnsmasq_string"):
        with pytest.raises(ValueError):
            linux.from_string("{{ v | " + name + " }}").render(v='a" b')


_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
_EXPR = re.compile(r"\{\{(.*?)\}\}")
_MACRO_CALL = re.compile(r"\s*\w+\.\w+\([\w, ]*\)\s*\|\s*safe\s*")


def _template_lines(templates: Path) -> list[tuple[Path, int, str]]:
    out = []
    for path in sorted(templates.rglob("*.j2")):
        text = _JINJA_COMMENT.sub(lambda m: "\n" * m[0].count("\n"), path.read_text())
        out += [(path, number, line) for number, line in enumerate(text.splitlines(), 1)]
    return out


def _in_quotes(line: str, position: int) -> bool:
    """Whether a place in a template line is inside a "..." of the output text."""
    literal = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", lambda m: " " * len(m[0]), line[:position])
    return literal.count('"') % 2 == 1


def _scan(templates: Path) -> list[str]:
    """Template lines that could emit a value the platform escaping does not see whole."""
    problems = []
    for path, number, line in _template_lines(templates):
        where = f"{path.relative_to(templates)}:{number}"
        platform = path.parent.name if path.parent.name != "_macros" else (
            "mikrotik_routeros" if path.stem == "routeros" else path.stem)
        for match in _EXPR.finditer(line):
            body, start, end = match[1], match.start(), match.end()
            if "safe" in body:
                if not _MACRO_CALL.fullmatch(body) or line.strip() != match[0]:
                    problems.append(f"{where}: `| safe` on something other than a macro call")
                continue
            if _in_quotes(line, start):
                problems.append(f"{where}: {match[0]} inside quotes")
            after = line[end:end + 1]
            if platform == "mikrotik_routeros" and (line[start - 1:start] != "=" or
                                                    after not in ("", " ")):
                problems.append(f"{where}: {match[0]} is not a whole property value")
            if platform == "cisco_ios" and (line[start - 1:start] not in ("", " ") or
                                            after not in ("", " ")):
                problems.append(f"{where}: {match[0]} is not a whole word")
        for tag in re.finditer(r"\{%.*?%\}", line):
            if "safe" in tag[0]:
                problems.append(f"{where}: `| safe` in a tag")
    return problems


def test_templates_write_every_value_through_the_platform_escaping() -> None:
    """A scan of every template: no value inside literal quotes (escaping would not know it is
    there), `| safe` only on a macro call, and on RouterOS every value is a whole property
    value, on IOS a whole word."""
    platforms = {p.parent.name for p in TEMPLATES.rglob("*.j2")}
    assert platforms >= {"mikrotik_routeros", "cisco_ios", "linux", "_macros"}
    problems = _scan(TEMPLATES)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("line", [
    'add comment="simpul: {{ hotspot.ssid }}" name=x',
    "set name={{ device.name | safe }}",
    "add name=simpul-{{ hotspot.name }} comment=simpul",
    "{% set c = site.name | safe %}",
])
def test_template_scan_catches_an_unescaped_value(tmp_path: Path, line: str) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    path = templates / "mikrotik_routeros" / "border_router.j2"
    path.write_text(path.read_text() + line + "\n")
    assert _scan(templates)


# --------------------------------------------------------------------------- inventory

def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_inventory_refuses_control_characters_in_text(tmp_path: Path) -> None:
    inv = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventory", inv)
    _edit(inv / "sites.yaml", "  name: Sekretariat Daerah\n",
          '  name: "Sekretariat Daerah\\n/user add name=backdoor group=full"\n'
          "  vars:\n    deep:\n      list: [ok, \"bad\\u202e\"]\n")
    _edit(inv / "sites.yaml", "    name: NOC Diskominfo\n", '    name: "NOC\\tDiskominfo"\n')
    _edit(inv / "hotspots.yaml", "  ssid: WiFi-Publik-TamanKota\n", '  ssid: "x\\" \\r/ip"\n')
    _edit(inv / "links.yaml", "    provider: Lintasarta\n", '    provider: "Linta\\u0000sarta"\n')
    # Terms of use are prose for the portal page: several lines are fine.
    _edit(inv / "hotspots.yaml", "    title: Taman Kota Kuala Kahayan\n",
          '    title: Taman Kota Kuala Kahayan\n    terms_en: "line one\\nline two"\n')
    _, problems = check_inventory(inv)
    text = "\n".join(str(p) for p in problems)
    site_line = (inv / "sites.yaml").read_text().splitlines().index(
        '  name: "Sekretariat Daerah\\n/user add name=backdoor group=full"') + 1
    assert (f"{inv}/sites.yaml:{site_line}: site 'setda': name: a newline is not allowed "
            "in inventory text") in text
    assert (f"{inv}/sites.yaml:{site_line + 3}: site 'setda': vars.deep.list.1: control "
            "character U+202E is not allowed") in text
    assert "site 'noc': contact.name: a tab is not allowed" in text
    assert "hotspot 'taman-kota': ssid: a carriage return is not allowed" in text
    assert "link 'isp-lintasarta': b.provider: control character U+0000" in text
    assert "terms_en" not in text


def test_device_role_is_a_name(tmp_path: Path) -> None:
    """The role names a template file: it cannot walk out of templates/<platform>/."""
    inv = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventory", inv)
    _edit(inv / "devices.yaml", "  role: border_router\n", "  role: ../../etc/passwd\n")
    _, problems = check_inventory(inv)
    assert any("device 'noc-border': role:" in str(p) for p in problems)
