"""MikroTik RouterOS: `/export` against the intent, for the objects Simpul manages.

Simpul manages settings menus (`set` lines, e.g. /ip dns) property by property, and list items
(`add` lines) whose comment starts with "simpul" (or, in menus without comments, whose name
starts "simpul-"). Other items are never touched. Values are compared after RouterOS's own
normalisation (controller.devices.routeros_model: defaults omitted, durations in its form).
Named items are set in place; menus of unnamed items (firewall rules: order matters) are
removed and re-added in intent order. Menus go in definition order (a pool before the
dhcp-server naming it). RouterOS writes changes to flash itself: `save` has nothing to do.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from controller.devices import routeros_files, routeros_model
from controller.devices.base import DeviceError, DeviceTarget, IntentError, Plan, netmiko_connect

TAG = "simpul"
PROMPT_RE = r"\[[^\[\]\r\n]*\] > ?$"
ERROR_RE = re.compile(
    r"(bad command name|expected |syntax error|failure:|no such item|input does not match|"
    r"invalid value|out of range|ambiguous value|not specified)", re.I)
# A console line stays within the terminal width netmiko asks for at login (`+ct511w`: 511
# columns; MikroTik's console manual, "Login Options": https://help.mikrotik.com/docs/x/MAIF)
# less the prompt, so RouterOS never wraps or repaints it while echoing.
LINE_LIMIT = 400
IDENTITY_MENU = "/system identity"
EXPORT = "/export show-sensitive"
_PROMPT_AT_END = re.compile(r"(\[[^\[\]\r\n]*\]) > ?\s*$")
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
_TERSE_RE = re.compile(r"^(/[a-z0-9-]+(?: (?!add |set )[a-z0-9-]+)*) (?:add|set) ")


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


# A word of a line without [ ]: bare runs and complete "..." strings (a backslash escapes the
# next character inside one). split_words' character loop is the reference; this is its fast
# path, taken only when the words it finds cover every non-blank character (issue #17).
_PLAIN_WORD_RE = re.compile(r'(?:[^ \t"\[\]]+|"(?:[^"\\]|\\[\s\S])*")+')


def split_words(line: str) -> list[tuple[str, int]]:
    """A command line's words with their 1-based columns ("..." and [ ... ] are parts of a
    word); an unterminated quote or bracket is an error, never a reason to split elsewhere."""
    if "[" not in line and "]" not in line:
        words, pos = [], 0
        for match in _PLAIN_WORD_RE.finditer(line):
            if line[pos:match.start()].strip(" \t"):
                break  # an unterminated quote: the loop below names it
            words.append((match[0], match.start() + 1))
            pos = match.end()
        else:
            if not line[pos:].strip(" \t"):
                return words
    return _split_words_slowly(line)


def _split_words_slowly(line: str) -> list[tuple[str, int]]:
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
    body = value[1:-1]
    if "\\" not in body and body.isascii() and not (strict and ("$" in body or "?" in body)):
        return body  # nothing to decode (_decode would give the same text)
    return _decode(body, strict)


def _decode(body: str, strict: bool) -> str:
    """A quoted word's body decoded, character by character (unquote's reference)."""
    out, i = bytearray(), 0
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
    """An export parsed: settings per (menu, selector) and list items per menu, plus the
    RouterOS version its header names ("" when unknown)."""

    settings: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    items: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    version: str = ""

    def managed(self, path: str) -> list[dict[str, str]]:
        return [i for i in self.items.get(path, []) if is_managed(path, i)]


def managed_name(value: str) -> bool:
    """Simpul's names: "simpul" or "simpul-..." (not any word that starts with simpul)."""
    return value == TAG or value.startswith(TAG + "-")


def is_managed(path: str, item: dict[str, str]) -> bool:
    """Simpul's items: a comment starting "simpul"; in menus without comments (e.g. /ip hotspot
    profile) a `simpul-` name; in menus with neither (/system logging) a reference to one."""
    if item.get("comment", "").startswith(TAG):
        return True
    if managed_name(item.get("name", "")):
        return True
    menu = routeros_model.load().menu(path)
    if menu is None or _has_field(menu, "comment") or _has_field(menu, "name"):
        return False
    return any(managed_name(item.get(ref.field, ""))
               for ref in routeros_model.load().references_from(path))


_HAS_FIELD: dict[tuple[int, str], tuple[routeros_model.Menu, bool]] = {}


def _has_field(menu: routeros_model.Menu, name: str) -> bool:
    """Whether any version of `menu` has the field; kept per menu object (the model is built
    once and not changed): every unmanaged item of an export asks (issue #17)."""
    found = _HAS_FIELD.get((id(menu), name))
    if found is not None and found[0] is menu:
        return found[1]
    answer = _has_field_uncached(menu, name)
    _HAS_FIELD[(id(menu), name)] = (menu, answer)
    return answer


def _has_field_uncached(menu: routeros_model.Menu, name: str) -> bool:
    return any(name in variant.fields or any(i.name == name for _, i in variant.versioned)
               for variant in menu.variants)


_VERSION_RE = re.compile(r"^# .*\bby RouterOS (\S+)", re.M)
VERSION_LINE = "# RouterOS "


def parse(text: str, *, intent: bool = False) -> RouterConfig:
    """Parse normalised export text (or rendered intent, which is written the same way);
    `### file:` sections after it are files (routeros_files), not configuration."""
    text, _ = routeros_files.split(text)
    config = RouterConfig()
    path = ""
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line.startswith(VERSION_LINE):
            config.version = line[len(VERSION_LINE):].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("/"):
            terse = _TERSE_RE.match(line)
            if terse:  # "/ip pool add ..." on one line (/export terse)
                path, line = terse[1], line[terse.end(1):].strip()
            else:
                path = " ".join(line.split())
            if intent and not _MENU_RE.fullmatch(path):
                raise IntentError(f"line {number}: {path!r} is not a menu")
            if line.startswith("/"):
                continue
        words = _tokens(line, number)
        verb, args = words[0], words[1:]
        selector = ""
        if args and args[0].startswith("["):
            selector, args = " ".join(args[0][1:-1].split()), args[1:]
        elif not intent and verb == "set" and args and "=" not in args[0]:
            # A built-in item by number or name, as real exports name some: `/port set 0
            # name=serial0`, `/ip service set telnet disabled=yes`, `/disk set slot1 ...`.
            selector, args = args[0], args[1:]
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
            if props.get("disabled") == "no" and _enabled_by_default(path):
                del props["disabled"]  # the default; /export does not print it
            if intent and not is_managed(path, props):
                raise IntentError(f"line {number}: {path} add without a comment starting "
                                  f"{TAG!r} (or, where the menu has no comment, a name "
                                  f"starting '{TAG}-'): Simpul could not recognise it on the "
                                  "device")
            config.items.setdefault(path, []).append(props)
        else:
            raise IntentError(f"line {number}: unsupported verb {verb!r}")
    return config


@lru_cache(maxsize=256)
def parse_intent(text: str) -> RouterConfig:
    """parse(text, intent=True), kept per exact text and shared, so never to be changed: a
    push plans and then verifies against the same intent (issue #17)."""
    return parse(text, intent=True)


# --------------------------------------------------------------------------- normalisation

_FIELDS: dict[tuple[int, str, routeros_model.Version], dict[str, routeros_model.FieldInfo]] = {}


def _fields(path: str, version: routeros_model.Version) -> dict[str, routeros_model.FieldInfo]:
    """A menu's fields on `version` (read-only; kept per model, menu and version: a push
    plans each device twice, and resolving fields anew was a third of planning, issue #17)."""
    model = routeros_model.load()
    key = (id(model), path, version)
    found = _FIELDS.get(key)
    if found is None:
        menu = model.menu(path)
        found = _FIELDS[key] = (menu.fields(version) if menu else None) or {}
    return found


def normal_value(info: routeros_model.FieldInfo | None, value: str) -> str:
    """A value as RouterOS prints it: yes/no, durations in its form, lists in its order."""
    if info is None:
        return value
    if info.kind == "bool":
        return {"true": "yes", "false": "no"}.get(value, value)
    if info.kind == "enum" and "," in value:
        order = {c: n for n, c in enumerate(info.choices)}
        return ",".join(sorted(value.split(","), key=lambda v: order.get(v, len(order))))
    return routeros_model.canonical_value(info, value)


def normal_props(path: str, props: dict[str, str], version: routeros_model.Version,
                 *, keep: frozenset[str] = frozenset()) -> dict[str, str]:
    """Properties after RouterOS's normalisation: values in its form, defaults omitted (as
    /export omits them), except the keys in `keep`."""
    fields = _fields(path, version)
    out: dict[str, str] = {}
    for key, value in props.items():
        info = fields.get(key)
        value = normal_value(info, value)
        if key not in keep and info is not None and info.default == value:
            continue
        if key == "disabled" and value == "no" and (info is None or info.default is None):
            continue
        out[key] = value
    return out


def _enabled_by_default(path: str) -> bool:
    """Whether an item added without disabled= is enabled: not so for /ip hotspot, whose
    real exports print `disabled=no` (routeros_overlay.yaml), or where /export prints
    defaults (the routing menus)."""
    menu = routeros_model.load().menu(path)
    if menu is None:
        return True
    if menu.prints_defaults:
        return False
    return all(variant.fields.get("disabled", routeros_model.FieldInfo("disabled")).default
               in (None, "no") for variant in menu.variants)


def _default(path: str, key: str, version: routeros_model.Version) -> str:
    info = _fields(path, version).get(key)
    if info is not None and info.default is not None:
        return info.default
    return DEFAULTS.get((path, key), "")


def _line(verb: str, props: dict[str, str], selector: str = "") -> str:
    sel = f"[ {selector} ] " if selector else ""
    return f"{verb} {sel}" + " ".join(f"{k}={quote(v)}" for k, v in sorted(props.items()))


# --------------------------------------------------------------------------- planning

@dataclass
class _Context:
    version: routeros_model.Version
    settings_keys: dict[tuple[str, str], list[str]]
    paths: list[str]  # list menus, in definition order (referenced menus first)


def _setting_values(config: RouterConfig, ctx: _Context, path: str, selector: str,
                    keys: list[str]) -> dict[str, str]:
    values = config.settings.get((path, selector), {})
    raw = {k: values.get(k, _default(path, k, ctx.version)) for k in keys}
    return normal_props(path, raw, ctx.version, keep=frozenset(keys))


def _items(config: RouterConfig, ctx: _Context, path: str) -> list[dict[str, str]]:
    return [normal_props(path, item, ctx.version) for item in config.managed(path)]


def _view(config: RouterConfig, ctx: _Context) -> list[str]:
    """Text of what Simpul manages, for diffs: chosen settings and the managed items."""
    out: list[str] = []
    for (path, selector), keys in sorted(ctx.settings_keys.items()):
        out += [path, _line("set", _setting_values(config, ctx, path, selector, keys),
                            selector)]
    for path in ctx.paths:
        managed = _items(config, ctx, path)
        if managed:
            out.append(path)
            out += [_line("add", item) for item in managed]
    return out


def _keyed(path: str, items: list[dict[str, str]]) -> dict[str, dict[str, str]] | None:
    """Items by name when every item has a distinct one (so each can be set in place)."""
    menu = routeros_model.load().menu(path)
    if menu is None or not _has_field(menu, "name"):
        return None
    names = [item.get("name", "") for item in items]
    if "" in names or len(set(names)) != len(names):
        return None
    return dict(zip(names, items, strict=True))


def _remove_all(path: str) -> str:
    menu = routeros_model.load().menu(path)
    if menu is None or _has_field(menu, "comment"):
        return f'{path} remove [ find where comment~"^{TAG}" ]'
    refs = [r.field for r in routeros_model.load().references_from(path)]
    key = "name" if _has_field(menu, "name") else (refs[0] if refs else "name")
    return f'{path} remove [ find where {key}~"^{TAG}(-|\\$)" ]'


def _plan(target: RouterConfig, current: RouterConfig, ctx: _Context) -> Plan:
    """Settings first; then, in definition order, what is added or set (so a reference always
    names an existing item); then named items that go away, in reverse order. Menus whose
    items have no names (firewall rules: order matters) are replaced whole, removed first."""
    first: list[str] = []
    middle: list[str] = []
    last: list[str] = []
    for (path, selector), keys in sorted(ctx.settings_keys.items()):
        want = _setting_values(target, ctx, path, selector, keys)
        have = _setting_values(current, ctx, path, selector, keys)
        changes = {k: v for k, v in want.items() if have.get(k) != v}
        if changes:
            first.append(f"{path} {_line('set', changes, selector)}")
    for path in ctx.paths:
        want_items, have_items = _items(target, ctx, path), _items(current, ctx, path)
        if want_items == have_items:
            continue
        want_named, have_named = _keyed(path, want_items), _keyed(path, have_items)
        if want_named is None or have_named is None:
            if have_items:
                first.append(_remove_all(path))
            middle += [f"{path} {_line('add', item)}" for item in want_items]
            continue
        for name, item in want_named.items():
            old = have_named.get(name)
            find = f"find name={quote(name)}"
            if old is None:
                middle.append(f"{path} {_line('add', item)}")
                continue
            changes = {k: v for k, v in item.items() if old.get(k) != v}
            for key in set(old) - set(item):
                changes[key] = _default(path, key, ctx.version)
            if changes:
                middle.append(f"{path} {_line('set', changes, find)}")
        last[:0] = [f"{path} remove [ find name={quote(name)} ]"
                    for name in have_named if name not in want_named]
    return Plan(diff=lambda: _diff(target, current, ctx), actions=first + middle + last)


def _diff(target: RouterConfig, current: RouterConfig, ctx: _Context) -> str:
    """The unified diff of what Simpul manages, from `current` to `target`."""
    before, after = _view(current, ctx), _view(target, ctx)
    diff = "\n".join(difflib.unified_diff(before, after, "running", "intended", lineterm="", n=2))
    return diff + "\n" if diff else ""


def _context(model_version: str, settings_keys: dict[tuple[str, str], list[str]],
             paths: set[str]) -> _Context:
    model = routeros_model.load()
    version = routeros_model.parse_version(model_version) if model_version else model.newest
    return _Context(version=version, settings_keys=settings_keys,
                    paths=routeros_model.definition_order(model, sorted(paths)))


def check_version(version: str) -> None:
    """Refuse, before anything is sent, a RouterOS version the model does not cover."""
    if version:
        problem = routeros_model.load().support_error(version)
        if problem:
            raise IntentError(problem)


class MikrotikRouterOS:
    name = "mikrotik_routeros"

    def connect(self, target: DeviceTarget) -> Any:
        return netmiko_connect(target, "mikrotik_routeros")

    def warm(self) -> None:
        """Build the RouterOS model now, once, rather than in the first device's plan while
        every other device's thread waits on its lock with a session open (issue #17)."""
        routeros_model.load()

    def normalise(self, raw: str) -> str:
        """Export text without its header, continuations joined; the header's RouterOS
        version is kept as a last line, `# RouterOS X.Y.Z` (planning depends on it)."""
        text = raw.replace("\r\n", "\n").replace("\r", "")
        version = _VERSION_RE.search(text)
        text = re.sub(r"\\\n\s*", "", text)  # continuation lines
        lines = [line.rstrip() for line in text.split("\n")]
        body = [line for line in lines if line and not line.startswith("#")]
        if version:
            body.append(VERSION_LINE + version[1])
        return "\n".join(body) + "\n"

    def fetch(self, conn: Any, intent: str) -> str:
        """The export, normalised, then the files the intent names (`### file:` sections,
        read over SFTP: routeros_files)."""
        raw = _strip_prompt(conn.send_command(EXPORT,
                                              expect_string=PROMPT_RE, read_timeout=60))
        if ERROR_RE.match(raw.strip()):  # RouterOS 6 has no show-sensitive: it shows all
            raw = _strip_prompt(conn.send_command("/export", expect_string=PROMPT_RE,
                                                  read_timeout=60))
        _, wanted = routeros_files.split(intent)
        return self.normalise(raw) + routeros_files.sections(
            routeros_files.read(conn, list(wanted)))

    def plan(self, intent: str, running: str) -> Plan:
        intent, want_files = routeros_files.split(intent)
        running, have_files = routeros_files.split(running)
        want, have = parse_intent(intent), parse(running)
        check_version(have.version)
        settings_keys = {key: list(props) for key, props in want.settings.items()}
        paths = set(want.items) | {p for p in have.items if have.managed(p)}
        return _with_files(_plan(want, have, _context(have.version, settings_keys, paths)),
                           want_files, have_files)

    def rollback_plan(self, backup: str, current: str) -> Plan:
        backup, old_files = routeros_files.split(backup)
        current, now_files = routeros_files.split(current)
        return _with_files(self._rollback_config(backup, current), old_files, now_files)

    def _rollback_config(self, backup: str, current: str) -> Plan:
        old, now = parse(backup), parse(current)
        settings_keys: dict[tuple[str, str], list[str]] = {}
        for key in set(old.settings) | set(now.settings):
            settings_keys[key] = sorted(set(old.settings.get(key, {})) |
                                        set(now.settings.get(key, {})))
        paths = {p for p in old.items if old.managed(p)} | {p for p in now.items if now.managed(p)}
        return _plan(old, now, _context(now.version or old.version, settings_keys, paths))

    def apply(self, conn: Any, plan: Plan) -> None:
        """Commands in order, several to a console line, then the files (their pages name
        nothing the commands make). RouterOS parses a whole line before it runs any of it and
        stops the line at the first runtime error, so a refused command still ends the push
        there; one round trip carries up to LINE_LIMIT characters of commands (issue #17)."""
        files = [a for a in plan.actions if isinstance(a, tuple)]
        self._send_lines(conn, [a for a in plan.actions if isinstance(a, str)], None, files)

    def apply_and_fetch(self, conn: Any, plan: Plan, intent: str) -> str:
        """apply, then fetch. Without files, the export rides on the last console line: it
        runs only if every command before it on the line ran (a refused one ends the line),
        and saves the verify step its own round trip (issue #17)."""
        files = [a for a in plan.actions if isinstance(a, tuple)]
        if files or routeros_files.split(intent)[1]:
            self.apply(conn, plan)
            return self.fetch(conn, intent)
        raw = self._send_lines(conn, [a for a in plan.actions if isinstance(a, str)],
                               EXPORT, [])
        return self.normalise(raw or "")

    def _send_lines(self, conn: Any, commands: list[str], tail: str | None,
                    files: list[Any]) -> str | None:
        """Send `commands` (and `tail`, e.g. an /export, after the last) in console lines,
        then apply `files`; return the output of `tail`. DeviceError names the refused line."""
        prompt, answer = None, None
        lines = batch_lines([*commands, tail] if tail else commands)
        try:
            for number, line in enumerate(lines, 1):
                raw = conn.send_command(line, expect_string=PROMPT_RE,
                                        read_timeout=60 if tail else 30, strip_prompt=False)
                found = _PROMPT_AT_END.search(raw.replace("\r", ""))
                prompt = found[1] if found else None
                output = _strip_prompt(raw).strip()
                if tail and number == len(lines):
                    header = _VERSION_RE.search(output)
                    if header is None:  # the line stopped before the export
                        raise DeviceError(f"{line}\n{output}")
                    output, answer = output[:header.start()].strip(), output[header.start():]
                if output and ERROR_RE.search(output):
                    raise DeviceError(f"{line}\n{output}")
            routeros_files.apply(conn, files)
        finally:
            if any(c.startswith(IDENTITY_MENU) for c in commands):
                # The new identity renamed the prompt: netmiko's base prompt is the last one
                # seen (as its set_base_prompt would find, without another round trip).
                if prompt is not None and not files:
                    conn.base_prompt = prompt
                else:
                    conn.set_base_prompt()
        return answer

    def save(self, conn: Any) -> None:
        """RouterOS keeps every change: nothing to save."""


def batch_lines(commands: list[str], limit: int | None = None) -> list[str]:
    """Commands joined by `; ` into console lines of at most `limit` characters (a longer
    command stays alone). MikroTik's scripting manual, "Line structure": `;` ends a command
    as a newline does (https://help.mikrotik.com/docs/display/ROS/Scripting). Every plan
    line starts with its menu's absolute path, so no command depends on the one before."""
    limit = LINE_LIMIT if limit is None else limit
    lines: list[str] = []
    for command in commands:
        if lines and len(lines[-1]) + 2 + len(command) <= limit:
            lines[-1] += "; " + command
        else:
            lines.append(command)
    return lines


def _with_files(plan: Plan, want: dict[str, str | None], have: dict[str, str | None]) -> Plan:
    """A configuration plan with the file changes that make `have` into `want` added."""
    diff, actions = routeros_files.plan(want, have)
    if not actions:
        return plan
    text = plan.diff + "\n".join(diff) + "\n"
    return Plan(diff=text, actions=[*plan.actions, *actions])


def _strip_prompt(output: str) -> str:
    lines = output.replace("\r", "").split("\n")
    while lines and (not lines[-1].strip() or re.search(PROMPT_RE, lines[-1])):
        lines.pop()
    return "\n".join(lines)
