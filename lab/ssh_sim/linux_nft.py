"""A small nftables model for the Linux gateway simulator: tables, sets with timed, counted
elements, chains as text. Enough for `nft -f` of the hotspot template, the portal's element
batches and `nft [-j] list`, with nft's all-or-nothing transactions and its error texts.

Elements expire by wall clock. Nothing forwards packets here, so each element's counter grows
at a steady rate of its own (seeded from the client address, like the RouterOS simulator's
`/ip hotspot active`), so the demo's accounting has data.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

FAMILIES = ("inet", "ip", "ip6", "arp", "bridge", "netdev")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")
ELEMENT_OPTIONS = ("timeout", "expires", "counter", "comment")
NFT_VERSION = "1.0.6"
UPLOAD_SETS = ("allowed",)  # the template's address . MAC set counts a client's upload
METAINFO = {"metainfo": {"version": NFT_VERSION, "release_name": "Lester Gooch #5",
                         "json_schema_version": 1}}
# nft's named chain priorities (inet family), as `nft -j` prints them: numbers.
PRIORITIES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50,
              "srcnat": 100}


class NftError(Exception):
    """A command nft refuses; the message is nft's own first line, without `Error: `."""


def parse_duration(text: str) -> int:
    """nft time values: `600s`, `10m`, `1h30m`, `2d`, or bare seconds."""
    if text.isdigit():
        return int(text)
    match = DURATION_RE.match(text)
    if not text or match is None or not any(match.groups()):
        raise NftError(f"syntax error, invalid time value `{text}`")
    days, hours, minutes, seconds, millis = (int(g) if g else 0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds + (1 if millis else 0)


def format_duration(seconds: float, millis: bool = False) -> str:
    """nft's own spelling: 10m, 1m40s, 9m59s968ms."""
    total_ms = int(round(seconds * 1000)) if millis else int(seconds) * 1000
    out = ""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if total_ms >= size:
            out += f"{total_ms // size}{unit}"
            total_ms %= size
    if millis and total_ms:
        out += f"{total_ms}ms"
    return out or "0s"


def split_statements(text: str) -> list[tuple[int, str]]:
    """Top-level statements of an nft script: separated by newlines or `;` outside braces,
    comments removed. Returns (line number, statement)."""
    statements: list[tuple[int, str]] = []
    buffer: list[str] = []
    depth, line, start = 0, 1, 1
    in_quote = in_comment = has_text = False
    for ch in text:
        if ch == "\n":
            line += 1
        if in_comment:
            if ch != "\n":
                continue
            in_comment = False
        elif in_quote:
            buffer.append(ch)
            in_quote = ch != '"'
            continue
        if ch == '"':
            in_quote = True
        elif ch == "#":
            in_comment = True
            continue
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise NftError("syntax error, unexpected '}'")
        elif ch in ";\n" and depth == 0:
            statement = "".join(buffer).strip()
            if statement:
                statements.append((start, statement))
            buffer, has_text = [], False
            continue
        if not has_text and not ch.isspace():
            has_text, start = True, line
        buffer.append(ch)
    if depth != 0 or in_quote:
        raise NftError("syntax error, unexpected end of file")
    statement = "".join(buffer).strip()
    if statement:
        statements.append((start, statement))
    return statements


def _braced(statement: str) -> tuple[str, str]:
    """`head { body }` -> (head, body); the body is everything inside the outer braces."""
    open_at = statement.find("{")
    if open_at < 0 or not statement.rstrip().endswith("}"):
        raise NftError("syntax error, unexpected newline, expecting '{'")
    return statement[:open_at].strip(), statement[open_at + 1:statement.rstrip().rfind("}")]


def _split_elements(body: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in body:
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


@dataclass
class Element:
    key: list[str]  # one value per type of the set (concatenations have several)
    timeout_s: int | None = None
    expires_at: float | None = None  # wall clock
    added_at: float = 0.0

    def bytes_now(self, now: float, rate_div: int) -> int:
        seconds = max(0, int(now - self.added_at))
        rate = 20_000 + zlib.crc32(self.key[0].encode()) % 180_000  # bytes/s, per client
        # upload (rate_div 8) is an eighth of download, as in the RouterOS simulator
        return seconds * rate // rate_div


@dataclass
class NftSet:
    name: str
    kind: str  # "set" or "map"
    types: list[str]
    flags: list[str] = field(default_factory=list)
    counter: bool = False
    timeout_s: int | None = None
    declaration: list[str] = field(default_factory=list)  # as written, for `nft list`
    elements: dict[str, Element] = field(default_factory=dict)

    def key_of(self, text: str) -> list[str]:
        values = [v.strip() for v in text.split(" . ")]
        if len(values) != len(self.types) or not all(values):
            raise NftError(f"Could not process rule: datatype mismatch, set {self.name} "
                           f"expects {' . '.join(self.types)}")
        return [self._value(kind, value) for kind, value in zip(self.types, values,
                                                                strict=True)]

    def _value(self, kind: str, value: str) -> str:
        try:
            if kind == "ipv4_addr":
                if "interval" in self.flags and "/" in value:
                    return str(ipaddress.IPv4Network(value, strict=True))
                return str(ipaddress.IPv4Address(value))
            if kind == "ipv6_addr":
                return str(ipaddress.IPv6Address(value))
        except ValueError:
            raise NftError(f"Could not resolve hostname: {value}") from None
        if kind == "ether_addr":
            if not MAC_RE.match(value):
                raise NftError(f"syntax error, unexpected string `{value}`, "
                               f"expecting ether address")
            return value.lower()
        if kind == "inet_service" and not value.isdigit():
            raise NftError(f"Could not resolve service: {value}")
        return value

    def purge(self, now: float) -> None:
        for text in [t for t, e in self.elements.items()
                     if e.expires_at is not None and e.expires_at <= now]:
            del self.elements[text]


@dataclass
class Chain:
    name: str
    header: list[str] = field(default_factory=list)  # "type filter hook ...", "policy accept"
    rules: list[str] = field(default_factory=list)


@dataclass
class Table:
    family: str
    name: str
    sets: dict[str, NftSet] = field(default_factory=dict)
    chains: dict[str, Chain] = field(default_factory=dict)


class Ruleset:
    """Every table of one simulated gateway; `run` applies a script as one transaction."""

    def __init__(self, data: dict[str, Any] | None = None):
        self.tables: dict[str, Table] = {}
        for key, raw in (data or {}).items():
            table = Table(raw["family"], raw["name"])
            for name, s in raw["sets"].items():
                elements = {k: Element(**e) for k, e in s.pop("elements").items()}
                table.sets[name] = NftSet(**s, elements=elements)
            table.chains = {n: Chain(**c) for n, c in raw["chains"].items()}
            self.tables[key] = table

    def to_json(self) -> dict[str, Any]:
        def dump(table: Table) -> dict[str, Any]:
            return {"family": table.family, "name": table.name,
                    "sets": {n: s.__dict__ | {"elements": {k: e.__dict__ for k, e in
                                                           s.elements.items()}}
                             for n, s in table.sets.items()},
                    "chains": {n: c.__dict__ for n, c in table.chains.items()}}
        return {key: dump(t) for key, t in self.tables.items()}

    # ---------------------------------------------------------------- transactions

    def run(self, script: str, json_output: bool = False, check_only: bool = False,
            now: float | None = None) -> str:
        """Apply every statement or none; return what `nft` prints on success.

        Raises NftError carrying the statement that failed (nft prints it under the error).
        """
        now = time.time() if now is None else now
        before = copy.deepcopy(self.tables)
        out: list[str] = []
        try:
            for _, statement in split_statements(script):
                try:
                    out.append(self._statement(statement, json_output, now))
                except NftError as exc:
                    raise NftError(f"{exc}\n{statement.splitlines()[0]}") from None
        except NftError:
            self.tables = before
            raise
        if check_only:
            self.tables = before
        return "".join(out)

    def _table(self, words: list[str], statement: str) -> Table:
        if len(words) < 2 or words[0] not in FAMILIES:
            raise NftError("syntax error, unexpected string, expecting table family")
        table = self.tables.get(f"{words[0]} {words[1]}")
        if table is None:
            raise NftError("Could not process rule: No such file or directory")
        return table

    def _statement(self, statement: str, json_output: bool, now: float) -> str:
        words = statement.split()
        verb = words[0]
        if verb == "table":
            self._declare_table(statement)
            return ""
        obj = words[1] if len(words) > 1 else ""
        rest = words[2:]
        if verb == "list" and obj == "ruleset":
            return "".join(self.render_table(t, now) for t in self.tables.values())
        if verb == "list" and obj == "table":
            table = self._table(rest, statement)
            if json_output:
                return self.table_json(table, now) + "\n"
            return self.render_table(table, now)
        if verb == "list" and obj in ("set", "map"):
            table = self._table(rest, statement)
            found = table.sets.get(rest[2]) if len(rest) > 2 else None
            if found is None:
                raise NftError("No such file or directory")
            if json_output:
                return self.set_json(table, found, now) + "\n"
            return (f"table {table.family} {table.name} {{\n"
                    f"{self._render_set(found, now)}}}\n")
        if verb in ("add", "create") and obj == "table":
            self._declare_table(f"table {' '.join(rest)} {{ }}")
            return ""
        if verb in ("delete", "destroy") and obj == "table":
            key = " ".join(rest[:2])
            if key not in self.tables and verb == "delete":
                raise NftError("Could not process rule: No such file or directory")
            self.tables.pop(key, None)
            return ""
        if verb == "flush" and obj == "table":
            table = self._table(rest, statement)
            for chain in table.chains.values():
                chain.rules.clear()
            for nft_set in table.sets.values():
                nft_set.elements.clear()
            return ""
        if verb == "flush" and obj == "ruleset":
            self.tables.clear()
            return ""
        if verb == "flush" and obj in ("chain", "set", "map"):
            table = self._table(rest, statement)
            name = rest[2] if len(rest) > 2 else ""
            if obj == "chain" and name in table.chains:
                table.chains[name].rules.clear()
            elif obj != "chain" and name in table.sets:
                table.sets[name].elements.clear()
            else:
                raise NftError("Could not process rule: No such file or directory")
            return ""
        if verb in ("add", "insert") and obj == "rule":
            table = self._table(rest, statement)
            target = table.chains.get(rest[2]) if len(rest) > 2 else None
            if target is None:
                raise NftError("Could not process rule: No such file or directory")
            rule = statement.split(None, 5)[5] if len(words) > 5 else ""
            if not rule:
                raise NftError("syntax error, unexpected end of file")
            if verb == "add":
                target.rules.append(rule)
            else:
                target.rules.insert(0, rule)
            return ""
        if verb in ("add", "create", "delete", "destroy") and obj == "element":
            self._elements(verb, statement, rest, now)
            return ""
        raise NftError("syntax error, unexpected string (the lab simulator knows only table, "
                       "flush, add/delete element, add rule, list and delete table)")

    def _elements(self, verb: str, statement: str, rest: list[str], now: float) -> None:
        table = self._table(rest, statement)
        head, body = _braced(statement)
        name = head.split()[-1] if len(head.split()) == 5 else ""
        nft_set = table.sets.get(name)
        if nft_set is None:
            raise NftError("Could not process rule: No such file or directory")
        nft_set.purge(now)
        for text in _split_elements(body):
            words = text.split()
            cut = next((i for i, w in enumerate(words) if w in ELEMENT_OPTIONS), len(words))
            key = nft_set.key_of(" ".join(words[:cut]))
            options = words[cut:]
            timeout = nft_set.timeout_s
            while options:
                option = options.pop(0)
                if option == "timeout" and options:
                    if "timeout" not in nft_set.flags and nft_set.timeout_s is None:
                        raise NftError("Could not process rule: Operation not supported")
                    timeout = parse_duration(options.pop(0).rstrip(","))
                elif option == "comment" and options:
                    options.pop(0)
                else:
                    raise NftError(f"syntax error, unexpected {option}")
            text_key = " . ".join(key)
            present = nft_set.elements.get(text_key)
            if verb in ("delete", "destroy"):
                if present is None and verb == "delete":
                    raise NftError("Could not process rule: No such file or directory")
                nft_set.elements.pop(text_key, None)
            elif present is not None:
                if verb == "create":
                    raise NftError("Could not process rule: File exists")
                # as the kernel does: a present element takes the new timeout, keeps its counter
                present.timeout_s = timeout
                present.expires_at = now + timeout if timeout else None
            else:
                nft_set.elements[text_key] = Element(key, timeout,
                                                     now + timeout if timeout else None, now)

    def _declare_table(self, statement: str) -> None:
        head, body = _braced(statement)
        words = head.split()
        if len(words) != 3 or words[1] not in FAMILIES or not NAME_RE.match(words[2]):
            raise NftError("syntax error, unexpected string, expecting table family and name")
        key = f"{words[1]} {words[2]}"
        table = self.tables.setdefault(key, Table(words[1], words[2]))
        for _, item in split_statements(body):
            kind = item.split()[0]
            if kind in ("set", "map"):
                self._declare_set(table, kind, item)
            elif kind == "chain":
                self._declare_chain(table, item)
            elif kind not in ("flags", "comment"):
                raise NftError(f"syntax error, unexpected {kind}")

    def _declare_set(self, table: Table, kind: str, item: str) -> None:
        head, body = _braced(item)
        name = head.split()[1] if len(head.split()) == 2 else ""
        if not NAME_RE.match(name):
            raise NftError(f"syntax error, unexpected {kind} name")
        declared = NftSet(name, kind, [])
        elements = ""
        for _, line in split_statements(body):
            words = line.split()
            if words[0] == "type":
                declared.types = [t.strip() for t in " ".join(words[1:]).split(".")]
            elif words[0] == "flags":
                declared.flags = [f.strip() for f in " ".join(words[1:]).split(",")]
            elif words[0] == "counter":
                declared.counter = True
            elif words[0] == "timeout" and len(words) == 2:
                declared.timeout_s = parse_duration(words[1])
            elif words[0] == "elements":
                elements = line
                continue
            elif words[0] not in ("size", "policy", "comment", "gc-interval"):
                raise NftError(f"syntax error, unexpected {words[0]}")
            declared.declaration.append(" ".join(words))
        if not declared.types or not all(declared.types):
            raise NftError(f"set '{name}' needs a type")
        existing = table.sets.get(name)
        if existing is not None:
            if existing.types != declared.types or existing.kind != kind:
                raise NftError("Could not process rule: File exists")
        else:
            table.sets[name] = declared
        if elements:
            self._elements("add", f"add element {table.family} {table.name} {name} "
                                  f"{elements.split('=', 1)[1].strip()}",
                           [table.family, table.name, name], time.time())

    def _declare_chain(self, table: Table, item: str) -> None:
        head, body = _braced(item)
        name = head.split()[1] if len(head.split()) == 2 else ""
        if not NAME_RE.match(name):
            raise NftError("syntax error, unexpected chain name")
        chain = table.chains.setdefault(name, Chain(name))
        header: list[str] = []
        for _, line in split_statements(body):
            if line.split()[0] in ("type", "policy"):
                header.append(" ".join(line.split()))
            else:
                chain.rules.append(line)
        if header:
            chain.header = header

    # ---------------------------------------------------------------- listings

    def _render_element(self, nft_set: NftSet, element: Element, now: float) -> str:
        text = " . ".join(element.key)
        if nft_set.counter:
            size = element.bytes_now(now, 8 if nft_set.name in UPLOAD_SETS else 1)
            text += f" counter packets {size // 1000} bytes {size}"
        if element.timeout_s:
            text += f" timeout {format_duration(element.timeout_s)}"
        if element.expires_at is not None:
            text += f" expires {format_duration(max(0.0, element.expires_at - now), True)}"
        return text

    def _render_set(self, nft_set: NftSet, now: float) -> str:
        nft_set.purge(now)
        lines = [f"\t{nft_set.kind} {nft_set.name} {{"]
        lines += [f"\t\t{line}" for line in nft_set.declaration]
        if nft_set.elements:
            shown = ", ".join(self._render_element(nft_set, e, now) for e in _listed(nft_set))
            lines.append(f"\t\telements = {{ {shown} }}")
        return "\n".join(lines) + "\n\t}\n"

    def render_table(self, table: Table, now: float) -> str:
        parts = [self._render_set(s, now) for s in table.sets.values()]
        for chain in table.chains.values():
            lines = [f"\tchain {chain.name} {{"]
            if chain.header:
                lines.append("\t\t" + "; ".join(chain.header) + ";")
            lines += [f"\t\t{rule}" for rule in chain.rules]
            parts.append("\n".join(lines) + "\n\t}\n")
        return f"table {table.family} {table.name} {{\n" + "\n".join(parts) + "}\n"

    def set_json(self, table: Table, nft_set: NftSet, now: float) -> str:
        """`nft -j list set`, shaped as nft 1.0 prints it."""
        return json.dumps({"nftables": [METAINFO, {"set": self._set_body(table, nft_set, now)}]})

    def table_json(self, table: Table, now: float) -> str:
        """`nft -j list table`: the table, its sets and its chains, all read at one moment
        (`now`), as the kernel answers one listing. Rules are left out: the simulator keeps
        their text, not nft's expression trees, and nothing reads them from JSON."""
        items: list[dict[str, Any]] = [METAINFO, {"table": {
            "family": table.family, "name": table.name, "handle": 1}}]
        items += [{"set": self._set_body(table, s, now)} for s in table.sets.values()]
        for handle, chain in enumerate(table.chains.values(), 1):
            body: dict[str, Any] = {"family": table.family, "table": table.name,
                                    "name": chain.name, "handle": handle}
            body.update(_base_chain(chain.header))
            items.append({"chain": body})
        return json.dumps({"nftables": items})

    def _set_body(self, table: Table, nft_set: NftSet, now: float) -> dict[str, Any]:
        nft_set.purge(now)
        body: dict[str, Any] = {
            "family": table.family, "name": nft_set.name, "table": table.name,
            "type": nft_set.types if len(nft_set.types) > 1 else nft_set.types[0],
            "handle": list(table.sets).index(nft_set.name) + 2}
        for line in nft_set.declaration:
            if line.startswith("size "):
                body["size"] = int(line.split()[1])
        flags = [f for f in nft_set.flags if f != "dynamic"]  # nft 1.0.6's JSON omits it
        if flags:
            body["flags"] = flags
        if nft_set.timeout_s:
            body["timeout"] = nft_set.timeout_s
        elements: list[Any] = []
        for element in _listed(nft_set):
            value: Any = ({"concat": element.key} if len(element.key) > 1
                          else element.key[0])
            if isinstance(value, str) and "/" in value:
                addr, length = value.split("/")
                value = {"prefix": {"addr": addr, "len": int(length)}}
            inner: dict[str, Any] = {"val": value}
            if element.timeout_s:
                inner["timeout"] = element.timeout_s
            if element.expires_at is not None:
                inner["expires"] = max(0, int(element.expires_at - now))
            if nft_set.counter:
                size = element.bytes_now(now, 8 if nft_set.name in UPLOAD_SETS else 1)
                inner["counter"] = {"packets": size // 1000, "bytes": size}
            elements.append({"elem": inner} if len(inner) > 1 else value)
        if elements:
            body["elem"] = elements
        if nft_set.counter:
            body["stmt"] = [{"counter": None}]
        return body


def _listed(nft_set: NftSet) -> list[Any]:
    """Elements in nft's listing order: an interval set lists by address (real nft 1.0.6
    prints `10.0.0.0/8, 100.64.0.0/10, 169.254.0.0/16, ...` whatever order they were added)."""
    elements = list(nft_set.elements.values())
    if "interval" in nft_set.flags:
        elements.sort(key=lambda e: ipaddress.ip_network(e.key[0], strict=False))
    return elements


def _base_chain(header: list[str]) -> dict[str, Any]:
    """`type filter hook forward priority filter; policy accept` -> nft's JSON chain fields."""
    words = " ".join(header).replace(";", " ").split()
    fields: dict[str, Any] = {}
    for key, field_name in (("type", "type"), ("hook", "hook"), ("priority", "prio"),
                            ("policy", "policy")):
        if key in words and words.index(key) + 1 < len(words):
            value: Any = words[words.index(key) + 1]
            if key == "priority":
                value = PRIORITIES.get(value, int(value) if value.lstrip("-").isdigit()
                                       else value)
            fields[field_name] = value
    return fields
