"""A MikroTik RouterOS 7 CLI, close enough for netmiko's `mikrotik_routeros` driver.

Command handling is table-driven: HANDLERS maps a menu path ("/ip firewall filter") to a
handler. Extension point: another module adds menus without touching this one, e.g.

    from lab.ssh_sim.routeros import HANDLERS, MenuHandler
    HANDLERS["/ip hotspot active"] = MyActiveHandler()   # a MenuHandler

A MenuHandler is called with a parsed Command and the RouterOSDevice, and returns the text to
print (or raises RouterOSError with the device's own message). If it also has an
`export(device, show_sensitive) -> list[str]` method, its lines appear in `/export`.
Handlers keep their state in `device.data` (a JSON-able dict persisted after each command).
"""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from controller.devices import routeros_model
from controller.devices.mikrotik_routeros import WordError, quote, split_words
from controller.devices.mikrotik_routeros import unquote as _unquote
from lab.ssh_sim.state import DeviceState

# A lab device's RouterOS version is the inventory device's `vars.routeros_version`; this one
# when it has none. Menus, fields and defaults per version come from routeros_model.
VERSION = "7.14.3"
# Ports every simulated router has (RouterOS names them by default-name); bridges, VLANs etc.
# come from the configuration. A seeded device has its own (lab.seed: `# model =` and the
# export's default-name= items), kept in its state's "meta".
BUILTIN_INTERFACES = tuple([f"ether{n}" for n in range(1, 11)] +
                           [f"sfp-sfpplus{n}" for n in range(1, 5)])
DEFAULT_HEADER = ("# software id = 7QXN-4K2B", "#", "# model = CCR2004-1G-12S+2XS")
# Menus under /interface whose items are not interfaces (a profile, a list, a port of a bridge).
NOT_INTERFACES = ("/interface list", "/interface list member", "/interface bridge port",
                  "/interface bridge vlan", "/interface bridge filter", "/interface bridge nat",
                  "/interface wireless security-profiles", "/interface wireless access-list",
                  "/interface wireless channels", "/interface lte apn",
                  "/interface wireguard peers", "/interface ethernet switch")


class RouterOSError(Exception):
    """A command the device refused; the message is what RouterOS prints."""


@dataclass
class Command:
    line: str
    path: str  # "/ip firewall filter"; "" for root commands such as /export
    verb: str
    verb_column: int
    args: list[tuple[str, str, int]] = field(default_factory=list)  # (key, value, column)
    flags: list[tuple[str, int]] = field(default_factory=list)  # bare words after the verb
    selector: str | None = None  # "[ find ... ]" content, a number list or an item name
    selector_column: int = 0
    # lab.seed: a `set` naming a built-in item (`[ find default=yes ]`, `0`, `telnet`) that the
    # fresh state lacks creates it, as the real router already has it.
    seeding: bool = False


class MenuHandler(Protocol):
    def __call__(self, cmd: Command, device: RouterOSDevice) -> str: ...


# --------------------------------------------------------------------------- tokenising

# Values are written (print, /export) and read with RouterOS's escapes, as MikroTik's scripting
# manual lists them (controller.devices.mikrotik_routeros): \XX is a byte in hex (capital
# letters, as /export writes every non-ASCII byte). Reading is strict, as the console's: a bare
# $ or ? inside quotes is a variable or the help key, never text.
def unquote(value: str) -> str:
    try:
        return _unquote(value, strict=True)
    except WordError as exc:
        raise RouterOSError(f"syntax error (line 1 column {exc.column})") from None


def tokenize(line: str) -> list[tuple[str, int]]:
    """Split a command line into tokens with their 1-based columns ("[ ... ]" is one token)."""
    try:
        return split_words(line)
    except WordError as exc:
        raise RouterOSError(f"syntax error (line 1 column {exc.column})") from None


# --------------------------------------------------------------------------- device


class RouterOSDevice:
    """One simulated router: its configuration (`data`) shared by all its SSH sessions."""

    def __init__(self, name: str, state: DeviceState, version: str = VERSION):
        self.name = name
        self.state = state
        self.inventory_version = version
        self.lock = threading.RLock()
        self._deferred, self._dirty = 0, False
        loaded = state.load()
        self.data: dict[str, Any] = loaded if loaded is not None else default_config(name)
        if loaded is None:
            self.persist()
        self._apply_meta()

    @classmethod
    def from_data(cls, name: str, data: dict[str, Any], version: str = VERSION,
                  state: DeviceState | None = None) -> RouterOSDevice:
        """A device holding `data` (lab.seed builds one before anything is saved)."""
        device = cls.__new__(cls)
        device.name, device.inventory_version = name, version
        device.state = state  # type: ignore[assignment]
        device.lock = threading.RLock()
        device._deferred, device._dirty = 0, False
        device.data = data
        device._apply_meta()
        return device

    def _apply_meta(self) -> None:
        """A seeded state's version, ports and header override the inventory's vars."""
        meta = self.data.get("meta", {})
        self.version = str(meta.get("version") or self.inventory_version)
        self.version_tuple = routeros_model.parse_version(self.version)
        self.ports = tuple(meta.get("ports") or BUILTIN_INTERFACES)
        self.header = tuple(meta.get("header") or DEFAULT_HEADER)

    def refresh(self) -> None:
        """Reload the state when another process replaced it (`simpul lab seed`)."""
        with self.lock:
            if self.state.changed_on_disk():
                loaded = self.state.load()
                if loaded is not None:
                    self.data = loaded
                    self._apply_meta()

    def persist(self) -> None:
        if self._deferred:
            self._dirty = True
            return
        self.state.save(self.data)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Within: a change is saved once, on the way out (a session's chunk of input)."""
        with self.lock:
            self._deferred += 1
        try:
            yield
        finally:
            with self.lock:
                self._deferred -= 1
                if not self._deferred and self._dirty:
                    self._dirty = False
                    self.state.save(self.data)

    def interfaces(self) -> set[str]:
        """Every interface name: the built-in ports (under their new names where renamed)
        and each /interface menu's items."""
        names = set(self.ports)
        for path, items in self.data.get("list", {}).items():
            if path.startswith("/interface ") and path not in NOT_INTERFACES:
                for item in items:
                    if "name" in item and ".default-name" in item:
                        names.discard(item[".default-name"])
                    names.update([item["name"]] if "name" in item else [])
        for path, lines in self.data.get("verbatim", {}).items():  # e.g. /interface lte
            if path.startswith("/interface ") and path not in NOT_INTERFACES:
                for line in lines:
                    names.update(unquote(m) for m in re.findall(
                        r'(?:^add|\]) .*?\bname=("(?:\\.|[^"\\])*"|\S+)', line))
        return names

    def identity(self) -> str:
        return str(self.data.get("single", {}).get("/system identity", {}).get("name",
                                                                              "MikroTik"))


def default_config(name: str) -> dict[str, Any]:
    """What a router holds before Simpul touches it: defaults plus a little local config."""
    return {
        "single": {"/system identity": {"name": "MikroTik"}},
        "list": {
            "/interface bridge": [{"name": "bridge", "comment": "defconf"}],
            "/ip address": [{"address": "192.168.88.1/24", "comment": "defconf",
                             "interface": "bridge", "network": "192.168.88.0"}],
            "/ip firewall filter": [
                {"action": "accept", "chain": "input",
                 "comment": "defconf: accept established,related,untracked",
                 "connection-state": "established,related,untracked"},
            ],
        },
    }


# --------------------------------------------------------------------------- generic menus

YES_NO = ("yes", "no")
ACTIONS = ("accept", "drop", "reject", "jump", "return", "log", "passthrough",
           "add-src-to-address-list", "add-dst-to-address-list", "fasttrack-connection",
           "dst-nat", "src-nat", "masquerade", "redirect", "netmap", "allow")
PROTOCOLS = ("tcp", "udp", "icmp", "gre", "ospf", "ipsec-esp", "ipsec-ah", "icmpv6")
_RATE = re.compile(r"^\d+[kMG]?$")
_IP_PREFIX = re.compile(r"^(\d{1,3}(\.\d{1,3}){3})(/\d{1,2})?$")


def _check_rate_pair(value: str) -> bool:
    parts = value.split("/")
    return len(parts) in (1, 2) and all(_RATE.match(p) for p in parts)


def _check_ip_list(value: str) -> bool:
    if value == "":
        return True
    for part in value.split(","):
        part = part.strip()
        if "-" in part:
            if not all(_IP_PREFIX.match(p) for p in part.split("-")):
                return False
        elif not _IP_PREFIX.match(part):
            return False
    return True


def _check_target(value: str) -> bool:
    """A queue target: addresses, or interface names."""
    return all(_check_ip_list(p) or re.match(r"^[A-Za-z][\w.-]*$", p) for p in value.split(","))


_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$")
_DURATION = re.compile(r"^(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?$")
SCHEDULER_POLICIES = ("ftp", "reboot", "read", "write", "policy", "test", "password", "sniff",
                      "sensitive", "romon")


def _check_date(value: str) -> bool:
    """RouterOS 7.10+ dates are ISO (2024-01-01); older ones jan/01/2024."""
    for fmt in ("%Y-%m-%d", "%b/%d/%Y"):
        try:
            datetime.strptime(value, fmt)
            return True
        except ValueError:
            continue
    return False


def _check_ports(value: str) -> bool:
    return all(re.match(r"^\d{1,5}(-\d{1,5})?$", p) for p in value.split(","))


@dataclass(frozen=True)
class Prop:
    name: str
    choices: tuple[str, ...] = ()
    check: Any = None  # callable(value) -> bool
    sensitive: bool = False
    default: str = ""
    always: bool = False  # exported even at its default (e.g. /system identity name)


def _props(*specs: str | Prop) -> dict[str, Prop]:
    return {(s.name if isinstance(s, Prop) else s): (s if isinstance(s, Prop) else Prop(s))
            for s in specs}


class SingletonMenu:
    """A settings menu such as /ip dns: `set key=value`, `print`, exported as `set ...`."""

    def __init__(self, path: str, props: dict[str, Prop]):
        self.path = path
        self.props = props

    def __call__(self, cmd: Command, device: RouterOSDevice) -> str:
        if cmd.verb == "set":
            if cmd.selector is not None:
                raise RouterOSError(f"expected end of command (line 1 column "
                                    f"{cmd.selector_column})")
            values = validate(self.path, self.props, cmd, device)
            current = device.data.setdefault("single", {}).setdefault(self.path, {})
            defaults = model_defaults(self.path, device)
            for key, value in values.items():
                prop = self.props.get(key, Prop(key))
                if value == defaults.get(key, prop.default) and not prop.always:
                    current.pop(key, None)
                else:
                    current[key] = value
            return ""
        if cmd.verb == "print":
            current = device.data.get("single", {}).get(self.path, {})
            width = max((len(k) for k in self.props), default=1)
            return "\n".join(f"{k:>{width}}: {current.get(k, p.default)}"
                             for k, p in self.props.items() if not p.sensitive)
        raise bad_verb(cmd)

    def export(self, device: RouterOSDevice, show_sensitive: bool) -> list[str]:
        current = device.data.get("single", {}).get(self.path, {})
        parts = [f"{k}={quote(v)}" for k, v in sorted(current.items())
                 if show_sensitive or not self.props.get(k, Prop(k)).sensitive]
        return ["set " + " ".join(parts)] if parts else []


class ListMenu:
    """A list menu such as /ip firewall filter: add, set, remove, print, enable, disable."""

    def __init__(self, path: str, props: dict[str, Prop], unique: str | None = None,
                 required: tuple[str, ...] = ()):
        self.path = path
        self.props = {**props, "comment": Prop("comment"), "disabled": Prop("disabled", YES_NO)}
        self.unique = unique
        self.required = required

    def items(self, device: RouterOSDevice) -> list[dict[str, str]]:
        return device.data.setdefault("list", {}).setdefault(self.path, [])

    def __call__(self, cmd: Command, device: RouterOSDevice) -> str:
        items = self.items(device)
        if cmd.verb == "add":
            if cmd.selector is not None:
                raise RouterOSError(f"expected end of command (line 1 column "
                                    f"{cmd.selector_column})")
            values = validate(self.path, self.props, cmd, device)
            for key in self.required:
                if key not in values:
                    raise RouterOSError(f"failure: {key} not specified")
            if self.unique and any(i.get(self.unique) == values.get(self.unique) for i in items):
                raise RouterOSError("failure: already have such entry")
            defaults = omitted(self.path, device)
            values = {k: v for k, v in values.items() if defaults.get(k) != v}
            items.append(values)
            return ""
        if cmd.verb in ("set", "enable", "disable"):
            chosen = self.select(cmd, items)
            values = validate(self.path, self.props, cmd, device) if cmd.verb == "set" else {
                "disabled": "yes" if cmd.verb == "disable" else "no"}
            if not chosen and cmd.seeding and cmd.verb == "set":
                chosen = [builtin_item(cmd)]
                items.insert(sum(1 for i in items if is_builtin(i)), chosen[0])
            defaults = omitted(self.path, device)
            for item in chosen:
                for key, value in values.items():
                    # "" clears a field without a default; where there is one (a port's
                    # ssid=MikroTik), "" is a value /export prints (ssid="").
                    if (value == "" and key not in defaults) or (
                            defaults.get(key) == value) or (
                            key == "name" and value == item.get(".default-name")):
                        item.pop(key, None)
                    else:
                        item[key] = value
            return ""
        if cmd.verb == "remove":
            chosen = self.select(cmd, items)
            if any(".default-name" in i for i in chosen):
                # A port is hardware: RouterOS answers "failure: cannot remove hardware
                # device" (as quoted from RouterOS's REST API in terraform-routeros issue
                # #570, https://github.com/terraform-routeros/terraform-provider-routeros/issues/570).
                raise RouterOSError("failure: cannot remove hardware device")
            ids = {id(i) for i in chosen}
            items[:] = [i for i in items if id(i) not in ids]
            return ""
        if cmd.verb == "print":
            lines = ["Flags: X - DISABLED"]
            for number, item in enumerate(items):
                flag = "X" if item.get("disabled") == "yes" else " "
                comment = f"   ;;; {item['comment']}\n" if "comment" in item else ""
                body = " ".join(f"{k}={quote(v)}" for k, v in item.items()
                                if k not in ("comment", "disabled") and not k.startswith(".")
                                and not self.props.get(k, Prop(k)).sensitive)
                lines.append(f"{number:>2} {flag}{comment.rstrip() and ' ' + comment.strip()}")
                lines.append(f"      {body}")
            return "\n".join(lines)
        raise bad_verb(cmd)

    def select(self, cmd: Command, items: list[dict[str, str]]) -> list[dict[str, str]]:
        if cmd.selector is None:
            raise RouterOSError(f"expected end of command (line 1 column {len(cmd.line) + 1})")
        selector = cmd.selector.strip()
        if selector.startswith("["):
            return [i for i in items if matches(selector, i, cmd.selector_column)]
        by_selector = [i for i in items if i.get(".selector") == selector]
        if by_selector or (cmd.seeding and cmd.verb == "set"):
            return by_selector  # a built-in item the export named so (`set 0`, `set telnet`)
        if re.match(r"^\d+(,\d+)*$", selector):
            chosen = []
            for number in selector.split(","):
                if int(number) >= len(items):
                    raise RouterOSError("no such item")
                chosen.append(items[int(number)])
            return chosen
        named = [i for i in items if i.get("name") == unquote(selector)]
        if not named:
            raise RouterOSError("no such item")
        return named

    def export(self, device: RouterOSDevice, show_sensitive: bool) -> list[str]:
        """`set <selector> ...` for built-in items (RouterOS's own: `[ find default=yes ]`,
        `[ find default-name=ether1 ]`, a number or a name), before `add ...` for the rest."""
        sets, adds = [], []
        for item in self.items(device):
            parts = [f"{k}={quote(v)}" for k, v in sorted(item.items()) if not k.startswith(".")
                     and (show_sensitive or not self.props.get(k, Prop(k)).sensitive)]
            if is_builtin(item):
                if parts:
                    sets.append(f"set {builtin_selector(item)} " + " ".join(parts))
            else:
                adds.append("add " + " ".join(parts))
        return sets + adds


def is_builtin(item: dict[str, str]) -> bool:
    return any(k in item for k in (".default", ".default-name", ".selector"))


def builtin_selector(item: dict[str, str]) -> str:
    """How /export names a built-in item."""
    if ".default-name" in item:
        return f"[ find default-name={quote(item['.default-name'])} ]"
    if ".default" in item:
        return "[ find default=yes ]"
    return item[".selector"]


def builtin_item(cmd: Command) -> dict[str, str]:
    """The built-in item a seeded `set` names (it exists on the real router before any
    configuration: a port, the default profile, the `telnet` service, logging rule 0)."""
    selector = (cmd.selector or "").strip()
    found = re.fullmatch(r"\[\s*find\s+(default-name|default)=(\S+)\s*\]", selector)
    if found and found[1] == "default-name":
        return {".default-name": unquote(found[2])}
    if found and found[2] == "yes":
        return {".default": "yes"}
    return {".selector": selector}


def matches(selector: str, item: dict[str, str], column: int) -> bool:
    """`[ find ]`, `[ find where comment="x" ]`, `[ find comment~"^simpul" ]`."""
    inner = selector.strip()[1:-1].strip()
    words = tokenize(inner)
    if not words or words[0][0] != "find":
        raise RouterOSError(f"expected command name (line 1 column {column + 1})")
    for word, col in words[1:]:
        if word == "where":
            continue
        m = re.match(r"^([a-z0-9-]+)(=|~|!=)(.*)$", word, re.S)
        if not m:
            raise RouterOSError(f"syntax error (line 1 column {column + col})")
        key, op, raw = m.groups()
        value, actual = unquote(raw), item.get(key, item.get("." + key, ""))
        if key == "default":  # every item has it: yes only for the built-in default item
            actual = item.get(".default", "no")
        elif key == "name" and not actual and ".default-name" in item:
            actual = item[".default-name"]  # a port keeps its default name until renamed
        if op == "=" and actual != value:
            return False
        if op == "!=" and actual == value:
            return False
        if op == "~" and not re.search(value, actual):
            return False
    return True


def model_fields(path: str, device: RouterOSDevice) -> dict[str, routeros_model.FieldInfo] | None:
    """The fields the model gives this menu on the device's version (None: not modelled)."""
    menu = routeros_model.load().menu(path)
    return None if menu is None else menu.fields(device.version_tuple)


def omitted(path: str, device: RouterOSDevice) -> dict[str, str]:
    """The values /export leaves out of this menu's items (none where it prints defaults)."""
    menu = routeros_model.load().menu(path)
    if menu is not None and menu.prints_defaults:
        return {}
    return {"disabled": "no", **model_defaults(path, device)}


def model_defaults(path: str, device: RouterOSDevice) -> dict[str, str]:
    fields = model_fields(path, device) or {}
    return {name: info.default for name, info in fields.items() if info.default is not None}


def check_references(path: str, values: dict[str, str], device: RouterOSDevice) -> None:
    """RouterOS refuses a name that no item of the referenced menu has."""
    for ref in routeros_model.load().references_from(path):
        if ref.field not in values or values[ref.field] in ("", *ref.builtin):
            continue
        if ref.to == "/interface":
            known = device.interfaces()
        else:
            known = {i.get(ref.key, "") for i in device.data.get("list", {}).get(ref.to, [])}
        names = values[ref.field].split(",") if ref.many else [values[ref.field]]
        names = [name.removeprefix("!") for name in names]  # in-interface=!ether1: not it
        if any(name not in known and name not in ref.builtin for name in names):
            raise RouterOSError(f"input does not match any value of {ref.field}")


def validate(path: str, props: dict[str, Prop], cmd: Command,
             device: RouterOSDevice) -> dict[str, str]:
    """The command's key=value pairs, checked as RouterOS checks them (the model's fields for
    the device's version, value types, references) and in RouterOS's stored form."""
    if cmd.flags:
        word, col = cmd.flags[0]
        raise RouterOSError(f"expected end of command (line 1 column {col})")
    fields = model_fields(path, device)
    values: dict[str, str] = {}
    for key, value, col in cmd.args:
        prop = props.get(key)
        if fields is not None:
            info = fields.get(key)
            if info is None or info.read_only:
                raise RouterOSError(f"expected end of command (line 1 column {col})")
            problem = routeros_model.value_error(info, value)
            if problem:
                raise RouterOSError(problem)
            value = routeros_model.canonical_value(info, value)
            if info.kind == "bool":
                value = {"true": "yes", "false": "no"}.get(value, value)
        elif prop is None:
            raise RouterOSError(f"expected end of command (line 1 column {col})")
        if prop is None:
            values[key] = value
            continue
        if prop.choices and value not in prop.choices and not (
                "," in value and all(v in prop.choices for v in value.split(","))):
            raise RouterOSError(f"input does not match any value of {key}")
        if prop.check and not prop.check(value):
            raise RouterOSError(f"value of {key} out of range" if key.endswith("limit")
                                else f"invalid value for argument {key}")
        values[key] = value
    check_references(path, values, device)
    return values


def bad_verb(cmd: Command) -> RouterOSError:
    return RouterOSError(f"bad command name {cmd.verb} (line 1 column {cmd.verb_column})")


_ADDR = Prop("address", check=_check_ip_list)
HANDLERS: dict[str, MenuHandler] = {
    "/system identity": SingletonMenu("/system identity", _props(Prop(
        "name", default="MikroTik", always=True))),
    "/system clock": SingletonMenu("/system clock", _props(Prop("time-zone-name",
                                                                default="manual"))),
    "/system ntp client": SingletonMenu("/system ntp client", _props(
        Prop("enabled", YES_NO, default="no"), Prop("servers", check=_check_ip_list))),
    "/ip dns": SingletonMenu("/ip dns", _props(
        Prop("servers", check=_check_ip_list), Prop("allow-remote-requests", YES_NO,
                                                     default="no"))),
    "/snmp": SingletonMenu("/snmp", _props(
        Prop("enabled", YES_NO, default="no"), "contact", "location",
        Prop("trap-version", ("1", "2", "3"), default="1"), "trap-community",
        "trap-target")),
    "/snmp community": ListMenu("/snmp community", _props(
        "name", Prop("addresses", check=_check_ip_list), Prop("security",
                                                              ("none", "authorized", "private")),
        Prop("authentication-protocol", ("MD5", "SHA1", "SHA256", "SHA512")),
        Prop("authentication-password", sensitive=True),
        Prop("encryption-protocol", ("DES", "AES")),
        Prop("encryption-password", sensitive=True),
        Prop("read-access", YES_NO), Prop("write-access", YES_NO)),
        unique="name", required=("name",)),
    "/system logging action": ListMenu("/system logging action", _props(
        "name", Prop("target", ("disk", "echo", "memory", "remote")),
        Prop("remote", check=_check_ip_list), Prop("remote-port", check=_check_ports)),
        unique="name", required=("name",)),
    "/system scheduler": ListMenu("/system scheduler", _props(
        "name", "on-event", Prop("start-date", check=_check_date),
        Prop("start-time", check=lambda v: v == "startup" or bool(_CLOCK.match(v))),
        Prop("interval", check=lambda v: bool(v) and bool(_DURATION.match(v) or _CLOCK.match(v))),
        Prop("policy", SCHEDULER_POLICIES)), unique="name", required=("name",)),
    "/system logging": ListMenu("/system logging", _props("topics", "action", "prefix"),
                                required=("action",)),
    "/ip firewall filter": ListMenu("/ip firewall filter", _props(
        "chain", Prop("action", ACTIONS), Prop("protocol", PROTOCOLS),
        Prop("src-address", check=_check_ip_list), Prop("dst-address", check=_check_ip_list),
        Prop("dst-port", check=_check_ports), "src-address-list", "dst-address-list",
        "in-interface", "out-interface", "connection-state", "reject-with",
        Prop("log", YES_NO), "log-prefix", "hotspot"), required=("chain",)),
    "/ip firewall nat": ListMenu("/ip firewall nat", _props(
        "chain", Prop("action", ACTIONS), Prop("protocol", PROTOCOLS),
        Prop("src-address", check=_check_ip_list), Prop("dst-address", check=_check_ip_list),
        Prop("dst-port", check=_check_ports), "to-addresses", "to-ports", "in-interface",
        "out-interface", "hotspot", "src-address-list"), required=("chain",)),
    "/ip firewall address-list": ListMenu("/ip firewall address-list", _props(
        "list", _ADDR), required=("list", "address")),
    "/ip address": ListMenu("/ip address", _props(_ADDR, "interface", "network"),
                            required=("address", "interface")),
    "/ip pool": ListMenu("/ip pool", _props("name", "ranges"), unique="name",
                         required=("name",)),
    "/interface bridge": ListMenu("/interface bridge", _props("name"), unique="name"),
    "/queue simple": ListMenu("/queue simple", _props(
        "name", Prop("target", check=_check_target),
        Prop("max-limit", check=_check_rate_pair), Prop("limit-at", check=_check_rate_pair),
        "parent", "queue", "time"), unique="name", required=("target",)),
    "/ip dhcp-server": ListMenu("/ip dhcp-server", _props(
        "name", "interface", "address-pool", "lease-time", "dhcp-option"), unique="name"),
    "/ip dhcp-server network": ListMenu("/ip dhcp-server network", _props(
        _ADDR, "gateway", "dns-server", "dhcp-option", "domain"), required=("address",)),
    "/ip dhcp-server option": ListMenu("/ip dhcp-server option", _props(
        "name", Prop("code", check=lambda v: v.isdigit() and 1 <= int(v) <= 254), "value"),
        unique="name", required=("name", "code")),
    "/ip hotspot profile": ListMenu("/ip hotspot profile", _props(
        "name", "hotspot-address", "dns-name", "html-directory", "login-by",
        "http-cookie-lifetime", Prop("use-radius", YES_NO)), unique="name"),
    "/ip hotspot user profile": ListMenu("/ip hotspot user profile", _props(
        "name", Prop("rate-limit", check=_check_rate_pair), "session-timeout",
        "idle-timeout", "keepalive-timeout", "shared-users", "parent-queue"), unique="name"),
    "/ip hotspot user": ListMenu("/ip hotspot user", _props(
        "name", Prop("password", sensitive=True), "profile", "server", "limit-uptime"),
        unique="name", required=("name",)),
    "/ip hotspot": ListMenu("/ip hotspot", _props(
        "name", "interface", "address-pool", "profile", "idle-timeout", "addresses-per-mac"),
        unique="name"),
    "/ip hotspot walled-garden": ListMenu("/ip hotspot walled-garden", _props(
        "dst-host", "dst-port", Prop("action", ("allow", "deny")), "server", "path")),
    "/ip hotspot walled-garden ip": ListMenu("/ip hotspot walled-garden ip", _props(
        Prop("dst-address", check=_check_ip_list), "dst-port", "protocol",
        Prop("action", ("accept", "drop", "reject")), "server")),
}

VERBS: tuple[str, ...] = ("add", "set", "remove", "print", "export", "enable", "disable",
                          "edit", "find", "get", "monitor", "reset", "unset", "comment", "move")


_GENERIC: dict[str, MenuHandler] = {}


def handler_for(path: str) -> MenuHandler | None:
    """The menu's handler: a hand-written one (HANDLERS), else one built from the model for
    any menu path the model knows (fields, defaults and versions checked; no value types
    beyond the model's), else None (RouterOS: "bad command name")."""
    if path in HANDLERS:
        return HANDLERS[path]
    if path not in _GENERIC:
        menu = routeros_model.load().menu(path)
        if menu is None:
            return None
        settings = any(v.settings for v in menu.variants)
        _GENERIC[path] = SingletonMenu(path, {}) if settings else ListMenu(path, {})
    return _GENERIC[path]


_PREFIXES: dict[tuple[int, frozenset[str]], set[str]] = {}


def menu_prefixes() -> set[str]:
    """Every menu path and its leading parts; kept until a module adds a menu (issue #17:
    rebuilding it for each command line was a sixth of the simulator's time in a push)."""
    model = routeros_model.load()
    key = (id(model), frozenset(HANDLERS))
    if key not in _PREFIXES:
        prefixes = {""}
        for path in [*HANDLERS, *model.menus]:
            words = path.strip("/").split()
            for i in range(1, len(words) + 1):
                prefixes.add("/" + " ".join(words[:i]))
        _PREFIXES.clear()
        _PREFIXES[key] = prefixes
    return _PREFIXES[key]


def parse(line: str) -> Command:
    tokens = tokenize(line)
    prefixes = menu_prefixes()
    words: list[tuple[str, int]] = []
    first, col = tokens[0]
    if first.startswith("/"):
        for part in first.strip("/").split("/"):
            if part:
                words.append((part, col))
    else:
        words.append((first, col))
    rest = tokens[1:]
    path = ""
    pending = list(words) + rest
    index = 0
    while index < len(pending):
        word, wcol = pending[index]
        candidate = (path + " " + word).strip() if path else "/" + word
        if candidate in prefixes and "=" not in word:
            path = candidate
            index += 1
            continue
        break
    if index >= len(pending):
        raise RouterOSError(f"expected command name (line 1 column {len(line) + 1})")
    return command(line, path, pending[index:])


def command(line: str, path: str, words: list[tuple[str, int]]) -> Command:
    """A Command from the words after the menu path (the verb first)."""
    if not words:
        raise RouterOSError(f"expected command name (line 1 column {len(line) + 1})")
    verb, verb_col = words[0]
    if verb not in VERBS and not (path == "" and verb in ("export", "quit")):
        raise RouterOSError(f"bad command name {verb} (line 1 column {verb_col})")
    cmd = Command(line=line, path=path, verb=verb, verb_column=verb_col)
    for token, tcol in words[1:]:
        m = re.match(r"^([a-z0-9-]+)=(.*)$", token, re.S)
        if m:
            cmd.args.append((m[1], unquote(m[2]), tcol))
        elif token.startswith("[") or (cmd.selector is None and not cmd.args
                                       and cmd.verb in ("set", "remove", "enable", "disable")):
            cmd.selector, cmd.selector_column = token, tcol
        else:
            cmd.flags.append((token, tcol))
    return cmd


def wrap(line: str, width: int = 80) -> list[str]:
    """RouterOS export wraps long lines with a trailing backslash and a 4-space indent."""
    if len(line) <= width:
        return [line]
    out: list[str] = []
    current = ""
    for word in re.findall(r'(?:[^\s"]|"(?:\\.|[^"\\])*")+', line):
        candidate = f"{current} {word}" if current else word
        if current and len(candidate) > width - 2:
            out.append(current + " \\")
            current = "    " + word
        else:
            current = candidate
    out.append(current)
    return out


def export(device: RouterOSDevice, show_sensitive: bool, terse: bool = False) -> str:
    """What RouterOS's /export prints: a header naming the version, each menu's lines
    wrapped at about 80 columns with `\\`, or with `terse` one whole line per item. A seeded
    device's menus that the model lacks are printed as the export had them (lab.seed)."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    serial = zlib.crc32(device.name.encode()) % 10**9
    lines = [f"# {now} by RouterOS {device.version}", *device.header]
    if "meta" not in device.data:
        lines.append(f"# serial number = HD{serial:09d}")
    verbatim: dict[str, list[str]] = device.data.get("verbatim", {})
    paths = set(HANDLERS) | set(device.data.get("list", {})) | set(
        device.data.get("single", {})) | set(verbatim)
    for path in sorted(paths):
        handler = handler_for(path)
        exporter = getattr(handler, "export", None)
        if path in verbatim:
            body = list(verbatim[path])
        elif exporter is None:
            continue
        else:
            body = exporter(device, show_sensitive)
        if body and terse:
            lines.extend(f"{path} {entry}" for entry in body)
        elif body:
            lines.append(path)
            for entry in body:
                lines.extend(wrap(entry))
    return "\n".join(lines)


class RouterOSCli:
    """One SSH session on a simulated RouterOS device."""

    def __init__(self, device: RouterOSDevice, username: str):
        self.device = device
        self.username = username
        self.closed = False
        self.echo = True

    def banner(self) -> str:
        return ("\n\n\n  MMM      MMM       KKK                          TTTTTTTTTTT      KKK\n"
                "  MikroTik RouterOS " + self.device.version + " (c) 1999-2024       https://www.mikrotik.com/"
                "\n\n")

    def prompt(self) -> str:
        return f"[{self.username}@{self.device.identity()}] > "

    def handle_line(self, line: str) -> str:
        """One console line: its commands (`;` ends one, as a newline does) are all parsed
        first, so a syntax error anywhere runs none of them; then they run one by one until
        the end or the first runtime error, which ends the line (MikroTik's scripting manual,
        "Line structure": https://help.mikrotik.com/docs/display/ROS/Scripting)."""
        if not line.strip():
            return ""
        self.device.state.log_command(line.strip())
        self.device.refresh()
        try:
            commands = [(_parse_at(text, offset), offset)
                        for text, offset in split_commands(line.strip())]
        except RouterOSError as exc:
            return str(exc)
        out: list[str] = []
        for cmd, offset in commands:
            try:
                answer = self._run(cmd)
            except RouterOSError as exc:
                out.append(_shift_columns(str(exc), offset))
                break
            if answer:
                out.append(answer)
            if self.closed:
                break
        return "\n".join(out)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """The server wraps each chunk of input in this: the state file is written once at
        its end, not after each command of a pasted batch (issue #17)."""
        with self.device.deferred():
            yield

    def _run(self, cmd: Command) -> str:
        if cmd.path == "" and cmd.verb == "quit":
            self.closed = True
            return "interrupted"
        if cmd.verb == "export":
            flags = {flag for flag, _ in cmd.flags}
            unknown = [(f, c) for f, c in cmd.flags if f not in ("show-sensitive", "terse")]
            if unknown:
                raise RouterOSError(f"expected end of command (line 1 column "
                                    f"{unknown[0][1]})")
            with self.device.lock:
                return export(self.device, "show-sensitive" in flags, "terse" in flags)
        return execute(self.device, cmd)


def split_commands(line: str) -> list[tuple[str, int]]:
    """A console line's commands and their offsets in it: `;` outside quotes and [ ] ends a
    command. An unterminated quote or bracket is left to the tokenizer to report."""
    parts: list[tuple[str, int]] = []
    start, depth, quoted, i = 0, 0, False, 0
    while i < len(line):
        ch = line[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == ";" and depth <= 0:
            parts.append((line[start:i], start))
            start = i + 1
        i += 1
    parts.append((line[start:], start))
    return [(text, offset) for text, offset in parts if text.strip()]


_COLUMN_RE = re.compile(r"\(line 1 column (\d+)\)")


def _shift_columns(message: str, offset: int) -> str:
    """RouterOS counts columns in the whole line, not in the command within it."""
    if not offset:
        return message
    return _COLUMN_RE.sub(lambda m: f"(line 1 column {int(m[1]) + offset})", message)


def _parse_at(text: str, offset: int) -> Command:
    try:
        return parse(text)
    except RouterOSError as exc:
        raise RouterOSError(_shift_columns(str(exc), offset)) from None


def execute(device: RouterOSDevice, cmd: Command) -> str:
    """Run one parsed command on the device (persisting a change); RouterOSError if refused."""
    handler = handler_for(cmd.path)
    if handler is None:
        raise RouterOSError(f"bad command name {cmd.verb} (line 1 column {cmd.verb_column})")
    with device.lock:
        before = repr(device.data)
        output = handler(cmd, device)
        if repr(device.data) != before and not cmd.seeding:
            device.persist()
    return output
