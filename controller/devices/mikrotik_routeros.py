"""MikroTik RouterOS: `/export` against the intent, for the objects Simpul manages.

Simpul manages settings menus (`set` lines, e.g. /ip dns) property by property, and list items
(`add` lines) whose comment starts with "simpul". Untagged items are never touched. When the
tagged items of a menu differ from the intent, they are removed and re-added in intent order
(firewall order matters). RouterOS writes changes to flash itself: `save` has nothing to do.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from controller.devices.base import DeviceError, DeviceTarget, IntentError, Plan, netmiko_connect

TAG = "simpul"
PROMPT_RE = r"\[[^\[\]\r\n]*\] > ?$"
ERROR_RE = re.compile(
    r"(bad command name|expected |syntax error|failure:|no such item|input does not match|"
    r"invalid value|out of range|ambiguous value|not specified)", re.I)
# Values of settings properties when /export does not print them (RouterOS defaults).
DEFAULTS: dict[tuple[str, str], str] = {
    ("/system identity", "name"): "MikroTik",
    ("/system clock", "time-zone-name"): "manual",
    ("/system ntp client", "enabled"): "no",
    ("/ip dns", "allow-remote-requests"): "no",
    ("/snmp", "enabled"): "no",
    ("/snmp", "trap-version"): "1",
}


# Quoting follows MikroTik's scripting manual, "Constant Escape Sequences"
# (https://help.mikrotik.com/docs/display/ROS/Scripting): inside "..." a backslash escapes
# \" \\ \n \r \t \$ (else $ substitutes a variable) \? (else ? asks the console for help)
# \_ (space) \a \b \f \v, and \XX is the byte of hex value XX (capital letters), which is how
# RouterOS's own /export writes non-ASCII text (its UTF-8 bytes).
PLAIN_RE = re.compile(r"[A-Za-z0-9._:/,+@*-]+")
_ESCAPE = {'"': '\\"', "\\": "\\\\", "$": "\\$", "?": "\\?", "\n": "\\n", "\r": "\\r",
           "\t": "\\t"}
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "_": " ", "a": "\a", "b": "\b", "f": "\f",
             "v": "\v"}
_HEX_PAIR = re.compile(r"[0-9A-F]{2}")
_KEY_RE = re.compile(r"[a-z0-9-]+")
_MENU_RE = re.compile(r"/[a-z0-9-]+( [a-z0-9-]+)*")


def quote(value: object) -> str:
    """A value as one RouterOS word: bare when plain, else a quoted string that the console
    reads back as exactly `value` (no variable, help key, command separator or line break)."""
    text = str(value)
    if PLAIN_RE.fullmatch(text):
        return text
    out: list[str] = []
    for ch in text:
        if ch in _ESCAPE:
            out.append(_ESCAPE[ch])
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.extend(f"\\{byte:02X}" for byte in ch.encode("utf-8"))
    return '"' + "".join(out) + '"'


class WordError(ValueError):
    """A command line whose quote or [ ] does not close, at a 1-based column."""

    def __init__(self, what: str, column: int):
        super().__init__(f"{what} at column {column}")
        self.what, self.column = what, column


def split_words(line: str) -> list[tuple[str, int]]:
    """A command line's words with their 1-based columns ("..." and [ ... ] are parts of a
    word); an unterminated quote or bracket is an error, never a reason to split elsewhere."""
    words: list[tuple[str, int]] = []
    i, n = 0, len(line)
    while i < n:
        if line[i] in " \t":
            i += 1
            continue
        start, depth, quoted = i, 0, False
        while i < n:
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
            elif ch in " \t" and depth <= 0:
                break
            i += 1
        if quoted:
            raise WordError("unterminated quote", start + 1)
        if depth > 0:
            raise WordError("unbalanced [ ]", start + 1)
        words.append((line[start:i], start + 1))
    return words


def unquote(value: str, *, strict: bool = False) -> str:
    """The text a (possibly quoted) RouterOS word stands for. `strict` reads as the console
    does: an unknown escape, or a bare $ (a variable) or ? (the help key) is a WordError."""
    if not (len(value) >= 2 and value[0] == '"' and value[-1] == '"'):
        return value
    body, out, i = value[1:-1], bytearray(), 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            if _HEX_PAIR.fullmatch(body[i + 1:i + 3]):
                out.append(int(body[i + 1:i + 3], 16))
                i += 3
                continue
            if strict and body[i + 1] not in _UNESCAPE and body[i + 1] not in _ESCAPE:
                raise WordError("unknown escape", i + 2)
            ch = _UNESCAPE.get(body[i + 1], body[i + 1])
            i += 1
        elif strict and ch in "$?\\":
            raise WordError(f"bare {ch}", i + 2)
        out += ch.encode("utf-8")
        i += 1
    return out.decode("utf-8", errors="replace")


def _tokens(text: str, number: int) -> list[str]:
    try:
        return [word for word, _ in split_words(text)]
    except WordError as exc:
        raise IntentError(f"line {number}: {exc.what} in {text[exc.column - 1:]!r}") from None


@dataclass
class RouterConfig:
    """An export parsed: settings per (menu, selector) and list items per menu."""

    settings: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    items: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def managed(self, path: str) -> list[dict[str, str]]:
        return [i for i in self.items.get(path, []) if i.get("comment", "").startswith(TAG)]


def parse(text: str, *, intent: bool = False) -> RouterConfig:
    """Parse normalised export text (or rendered intent, which is written the same way)."""
    config = RouterConfig()
    path = ""
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("/"):
            head, _, rest = line.partition(" ")
            if not rest or rest.split()[0] not in ("add", "set"):
                path = " ".join(line.split())
            else:
                path, line = head, rest  # "/ip add ..." on one line
            if intent and not _MENU_RE.fullmatch(path):
                raise IntentError(f"line {number}: {path!r} is not a menu")
            if line.startswith("/"):
                continue
        words = _tokens(line, number)
        verb, args = words[0], words[1:]
        selector = ""
        if args and args[0].startswith("["):
            selector, args = " ".join(args[0][1:-1].split()), args[1:]
        props: dict[str, str] = {}
        for arg in args:
            key, eq, value = arg.partition("=")
            if not eq or (intent and not _KEY_RE.fullmatch(key)):
                raise IntentError(f"line {number}: {arg!r} is not key=value")
            props[key] = unquote(value)
        if not path:
            raise IntentError(f"line {number}: {verb} outside a menu")
        if verb == "set":
            config.settings.setdefault((path, selector), {}).update(props)
        elif verb == "add":
            if props.get("disabled") == "no":  # the default; /export never prints it
                del props["disabled"]
            if intent and not props.get("comment", "").startswith(TAG):
                raise IntentError(f"line {number}: {path} add without a comment starting "
                                  f"{TAG!r}: Simpul could not recognise it on the device")
            config.items.setdefault(path, []).append(props)
        else:
            raise IntentError(f"line {number}: unsupported verb {verb!r}")
    return config


def _line(verb: str, props: dict[str, str], selector: str = "") -> str:
    sel = f"[ {selector} ] " if selector else ""
    return f"{verb} {sel}" + " ".join(f"{k}={quote(v)}" for k, v in sorted(props.items()))


def _view(config: RouterConfig, settings_keys: dict[tuple[str, str], list[str]],
          paths: list[str]) -> list[str]:
    """Text of what Simpul manages, for diffs: chosen settings and the tagged items."""
    out: list[str] = []
    for (path, selector), keys in sorted(settings_keys.items()):
        values = config.settings.get((path, selector), {})
        props = {k: values.get(k, DEFAULTS.get((path, k), "")) for k in keys}
        out += [path, _line("set", props, selector)]
    for path in sorted(paths):
        managed = config.managed(path)
        if managed:
            out.append(path)
            out += [_line("add", item) for item in managed]
    return out


def _plan(target: RouterConfig, current: RouterConfig,
          settings_keys: dict[tuple[str, str], list[str]], paths: list[str]) -> Plan:
    actions: list[str] = []
    for (path, selector), keys in sorted(settings_keys.items()):
        want = target.settings.get((path, selector), {})
        have = current.settings.get((path, selector), {})
        changes = {k: want.get(k, DEFAULTS.get((path, k), "")) for k in keys
                   if want.get(k, DEFAULTS.get((path, k), "")) != have.get(
                       k, DEFAULTS.get((path, k), ""))}
        if changes:
            actions.append(f"{path} {_line('set', changes, selector)}")
    for path in sorted(paths):
        want_items, have_items = target.managed(path), current.managed(path)
        if want_items == have_items:
            continue
        if have_items:
            actions.append(f'{path} remove [ find where comment~"^{TAG}" ]')
        actions += [f"{path} {_line('add', item)}" for item in want_items]
    before = _view(current, settings_keys, paths)
    after = _view(target, settings_keys, paths)
    diff = "\n".join(difflib.unified_diff(before, after, "running", "intended", lineterm="", n=2))
    return Plan(diff=diff + "\n" if diff else "", actions=actions)


class MikrotikRouterOS:
    name = "mikrotik_routeros"

    def connect(self, target: DeviceTarget) -> Any:
        return netmiko_connect(target, "mikrotik_routeros")

    def normalise(self, raw: str) -> str:
        text = raw.replace("\r\n", "\n").replace("\r", "")
        text = re.sub(r"\\\n\s*", "", text)  # continuation lines
        lines = [line.rstrip() for line in text.split("\n")]
        return "\n".join(line for line in lines if line and not line.startswith("#")) + "\n"

    def fetch(self, conn: Any, intent: str) -> str:
        raw = _strip_prompt(conn.send_command("/export show-sensitive",
                                              expect_string=PROMPT_RE, read_timeout=60))
        if ERROR_RE.match(raw.strip()):  # RouterOS 6 has no show-sensitive: it shows all
            raw = _strip_prompt(conn.send_command("/export", expect_string=PROMPT_RE,
                                                  read_timeout=60))
        return self.normalise(raw)

    def plan(self, intent: str, running: str) -> Plan:
        want, have = parse(intent, intent=True), parse(running)
        settings_keys = {key: list(props) for key, props in want.settings.items()}
        paths = sorted(set(want.items) | {p for p in have.items if have.managed(p)})
        return _plan(want, have, settings_keys, paths)

    def rollback_plan(self, backup: str, current: str) -> Plan:
        old, now = parse(backup), parse(current)
        settings_keys: dict[tuple[str, str], list[str]] = {}
        for key in set(old.settings) | set(now.settings):
            settings_keys[key] = sorted(set(old.settings.get(key, {})) |
                                        set(now.settings.get(key, {})))
        paths = sorted({p for p in old.items if old.managed(p)} |
                       {p for p in now.items if now.managed(p)})
        return _plan(old, now, settings_keys, paths)

    def apply(self, conn: Any, plan: Plan) -> None:
        try:
            for command in plan.actions:
                output = _strip_prompt(conn.send_command(
                    command, expect_string=PROMPT_RE, read_timeout=30)).strip()
                if output and ERROR_RE.search(output):
                    raise DeviceError(f"{command}\n{output}")
        finally:
            conn.set_base_prompt()  # /system identity may have renamed the prompt

    def save(self, conn: Any) -> None:
        """RouterOS keeps every change: nothing to save."""


def _strip_prompt(output: str) -> str:
    lines = output.replace("\r", "").split("\n")
    while lines and (not lines[-1].strip() or re.search(PROMPT_RE, lines[-1])):
        lines.pop()
    return "\n".join(lines)
