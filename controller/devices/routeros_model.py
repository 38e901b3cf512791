"""RouterOS menus as data, read from community.routeros's `_api_data.py` plus a cited overlay.

The description of every menu path (settings or list, fields, defaults, the versions that have
each field) is community.routeros's, from the `ansible` wheel pinned in deploy/bootstrap.sh,
which extracts only that file to .tools/routeros/_api_data.py. It imports ansible, so it is
read as data (its AST), never imported. routeros_overlay.yaml adds what it lacks (paths,
value types, references between menus), each entry citing its source. The driver and the
lab's simulator both read this one model.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import threading
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
API_DATA = ROOT / ".tools" / "routeros" / "_api_data.py"
OVERLAY = Path(__file__).with_name("routeros_overlay.yaml")
# The oldest RouterOS Simpul supports: ISO dates in /export, and the model's version data
# (which starts to matter for Simpul's menus at 7.10, e.g. /snmp engine-id-suffix).
OLDEST_SUPPORTED = (7, 10)

Version = tuple[int, ...]
Condition = tuple[str, str]  # (version, comparator) as community.routeros writes them


class ModelError(RuntimeError):
    """The model file is missing or not in the shape this reader understands."""


@lru_cache(maxsize=256)
def parse_version(text: str) -> Version:
    """'7.14.3' -> (7, 14, 3); beta/rc suffixes are ignored ('7.15rc2' -> (7, 15))."""
    match = re.match(r"^(\d+(?:\.\d+)*)", text.strip())
    if not match:
        raise ValueError(f"not a RouterOS version: {text!r}")
    return tuple(int(p) for p in match[1].split("."))


def _holds(version: Version, conditions: list[Condition]) -> bool:
    for other, op in conditions:
        if other == "*":
            continue
        a, b = version, parse_version(other)
        width = max(len(a), len(b))
        a, b = a + (0,) * (width - len(a)), b + (0,) * (width - len(b))
        ok = {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b,
              ">=": a >= b}[op]
        if not ok:
            return False
    return True


@dataclass(frozen=True)
class FieldInfo:
    """One property of a menu: its default as /export would print it (None: no default)."""

    name: str
    default: str | None = None
    required: bool = False
    read_only: bool = False
    kind: str = ""  # bool, int, rate, duration, enum, or "" (free text); see value_error()
    choices: tuple[str, ...] = ()
    words: tuple[str, ...] = ()  # words a duration also takes ("none" where it is the default)


@dataclass
class MenuVariant:
    conditions: list[Condition]
    settings: bool
    primary_keys: tuple[str, ...]
    fields: dict[str, FieldInfo]
    versioned: list[tuple[list[Condition], FieldInfo]] = field(default_factory=list)


@dataclass
class Menu:
    """A menu path ("/ip hotspot profile") with its variants by version."""

    path: str
    variants: list[MenuVariant]
    source: str = "community.routeros"
    # /export prints every property an item was given, defaults included (RouterOS 7's
    # routing menus: `/ip route add disabled=no ... routing-table=main`); see the overlay.
    prints_defaults: bool = False

    def variant(self, version: Version) -> MenuVariant | None:
        for variant in self.variants:
            if _holds(version, variant.conditions):
                return variant
        return None

    def fields(self, version: Version) -> dict[str, FieldInfo] | None:
        """The fields this menu has on `version`; None when the version lacks the menu."""
        variant = self.variant(version)
        if variant is None:
            return None
        found = dict(variant.fields)
        for conditions, info in variant.versioned:
            if _holds(version, conditions):
                found[info.name] = info
        return found

    def is_settings(self, version: Version) -> bool:
        variant = self.variant(version)
        return bool(variant and variant.settings)


@dataclass(frozen=True)
class Reference:
    """`path field=` names an item of `to` (by its `key`), or one of the built-in values."""

    path: str
    field: str
    to: str
    key: str = "name"
    builtin: tuple[str, ...] = ()
    many: bool = False  # a comma-separated list of names


@dataclass
class Model:
    menus: dict[str, Menu]
    references: list[Reference]
    versions: list[Version]  # every version the model's data mentions
    origin: str
    _from: dict[str, list[Reference]] | None = field(default=None, repr=False, compare=False)

    @property
    def newest(self) -> Version:
        return max(self.versions)

    def menu(self, path: str) -> Menu | None:
        return self.menus.get(path)

    def references_from(self, path: str) -> list[Reference]:
        """The references from `path`'s fields, in the overlay's order (an index built on
        first use: every unmanaged item of an export asks; issue #17)."""
        if self._from is None:
            index: dict[str, list[Reference]] = {}
            for ref in self.references:
                index.setdefault(ref.path, []).append(ref)
            self._from = index
        return list(self._from.get(path, ()))

    def supported_versions(self) -> list[Version]:
        """One release per minor version, 7.10 up to the newest the model knows."""
        newest = self.newest
        return [(7, minor) for minor in range(OLDEST_SUPPORTED[1], newest[1] + 1)
                if newest[0] == 7]

    def support_error(self, version_text: str) -> str | None:
        """Why Simpul refuses to configure this RouterOS version, or None."""
        try:
            version = parse_version(version_text)
        except ValueError:
            return f"RouterOS version {version_text!r} is not a version number"
        newest = ".".join(map(str, self.newest[:2]))
        if version[:2] < OLDEST_SUPPORTED or version[:2] > self.newest[:2]:
            return (f"RouterOS {version_text} is not supported: Simpul supports 7.10 to "
                    f"{newest} (the newest its RouterOS model, {self.origin}, describes)")
        return None


# --------------------------------------------------------------------------- values

_DURATION_RE = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_CLOCK_RE = re.compile(r"^(\d+):([0-5]\d):([0-5]\d)$")


def duration_seconds(text: str) -> int | None:
    """RouterOS's duration forms ('15m', '1d2h', '900', '01:30:00') in seconds, or None."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    clock = _CLOCK_RE.match(text)
    if clock:
        return int(clock[1]) * 3600 + int(clock[2]) * 60 + int(clock[3])
    match = _DURATION_RE.match(text)
    if not text or not match:
        return None
    w, d, h, m, s = (int(g) if g else 0 for g in match.groups())
    return (((w * 7 + d) * 24 + h) * 60 + m) * 60 + s


def canonical_duration(text: str) -> str:
    """A duration as RouterOS prints it: 900s -> 15m, 93784s -> 1d2h3m4s, 604800s -> 1w;
    words (none, unlimited) and unparseable text unchanged."""
    seconds = duration_seconds(text)
    if seconds is None:
        return text
    if seconds == 0:
        return "0s"
    out = ""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out += f"{count}{unit}"
    return out


def canonical_value(info: FieldInfo | None, value: str) -> str:
    """A value as RouterOS stores and prints it (durations in RouterOS's form)."""
    if info is not None and info.kind == "duration":
        return canonical_duration(value)
    return value


def value_error(info: FieldInfo, value: str) -> str | None:
    """RouterOS's message for a value this field's type refuses, or None."""
    if info.kind == "bool" and value not in ("yes", "no", "true", "false"):
        return f"input does not match any value of {info.name}"
    if info.kind == "int" and not (value.isdigit() or value == "unlimited"):
        return f"invalid value for argument {info.name}"
    if info.kind == "rate" and not re.fullmatch(r"\d+[kMG]?", value):  # bits/s: 512k, 100M
        return f"invalid value for argument {info.name}"
    # RouterOS refuses '' and 'none' for a time without a none (e.g. session-timeout):
    # "invalid time value for argument session-timeout".
    if info.kind == "duration" and value not in info.words and duration_seconds(value) is None:
        return f"invalid time value for argument {info.name}"
    if info.kind == "enum" and not all(v in info.choices for v in value.split(",")):
        return f"input does not match any value of {info.name}"
    return None


def _kind_of_default(default: object) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, str) and default not in ("", "0") and _DURATION_RE.match(default):
        return "duration"
    return ""


def _export_text(default: object) -> str | None:
    if default is None:
        return None
    if isinstance(default, bool):
        return "yes" if default else "no"
    return str(default)


# --------------------------------------------------------------------------- reading

def _kwargs(call: ast.Call) -> dict[str, ast.expr]:
    return {kw.arg: kw.value for kw in call.keywords if kw.arg}


def _call_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id
    return ""


def _key_info(name: str, node: ast.expr) -> FieldInfo:
    if _call_name(node) != "KeyInfo":
        raise ModelError(f"field {name!r}: expected KeyInfo(...)")
    args = {k: ast.literal_eval(v) for k, v in _kwargs(node).items()}  # type: ignore[arg-type]
    default = args.get("default")
    return FieldInfo(name=name, default=_export_text(default),
                     required=bool(args.get("required")), read_only=bool(args.get("read_only")),
                     kind=_kind_of_default(default), words=("none",) if default == "none" else ())


def _variant(node: ast.expr, conditions: list[Condition]) -> MenuVariant | None:
    if _call_name(node) != "VersionedAPIData":
        return None  # a string (an explanation why the path is absent) or None
    args = _kwargs(node)  # type: ignore[arg-type]
    fields: dict[str, FieldInfo] = {}
    fields_node = args.get("fields")
    if isinstance(fields_node, ast.Dict):
        for key, value in zip(fields_node.keys, fields_node.values, strict=True):
            name = ast.literal_eval(key)  # type: ignore[arg-type]
            fields[name] = _key_info(name, value)
    versioned: list[tuple[list[Condition], FieldInfo]] = []
    versioned_node = args.get("versioned_fields")
    if isinstance(versioned_node, ast.List):
        for entry in versioned_node.elts:
            if not isinstance(entry, ast.Tuple) or len(entry.elts) != 3:
                raise ModelError("versioned_fields entry is not (conditions, name, KeyInfo)")
            conds = [tuple(c) for c in ast.literal_eval(entry.elts[0])]
            name = ast.literal_eval(entry.elts[1])
            versioned.append(([(str(v), str(op)) for v, op in conds],
                              _key_info(name, entry.elts[2])))
    primary = args.get("primary_keys")
    return MenuVariant(
        conditions=conditions,
        settings=bool(ast.literal_eval(args["single_value"])) if "single_value" in args else False,
        primary_keys=tuple(ast.literal_eval(primary)) if primary is not None else (),
        fields=fields, versioned=versioned)


def _menu(path: str, node: ast.expr) -> Menu:
    if _call_name(node) != "APIData":
        raise ModelError(f"{path}: expected APIData(...)")
    args = _kwargs(node)  # type: ignore[arg-type]
    variants: list[MenuVariant] = []
    if "unversioned" in args:
        variant = _variant(args["unversioned"], [])
        if variant:
            variants.append(variant)
    versioned = args.get("versioned")
    if isinstance(versioned, ast.List):
        for entry in versioned.elts:
            if not isinstance(entry, ast.Tuple) or len(entry.elts) != 3:
                raise ModelError(f"{path}: versioned entry is not (version, op, data)")
            version, op = ast.literal_eval(entry.elts[0]), ast.literal_eval(entry.elts[1])
            variant = _variant(entry.elts[2], [(str(version), str(op))])
            if variant:
                variants.append(variant)
    return Menu(path=path, variants=variants)


def read_api_data(source: str) -> dict[str, Menu]:
    """The PATHS table of community.routeros's _api_data.py, from its source text."""
    tree = ast.parse(source)
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "PATHS"
                and isinstance(node.value, ast.Dict)):
            menus = {}
            for key, value in zip(node.value.keys, node.value.values, strict=True):
                words = ast.literal_eval(key)  # type: ignore[arg-type]
                path = "/" + " ".join(words)
                menus[path] = _menu(path, value)
            return menus
    raise ModelError("no PATHS = {...} table found")


def _versions_in(menus: dict[str, Menu]) -> list[Version]:
    found: set[Version] = set()
    for menu in menus.values():
        for variant in menu.variants:
            conds = list(variant.conditions)
            for c, _ in variant.versioned:
                conds += c
            found.update(parse_version(v) for v, _ in conds if v != "*")
    return sorted(found)


def _apply_overlay(menus: dict[str, Menu], overlay: dict[str, Any]) -> list[Reference]:
    for entry in overlay.get("paths", []):
        fields = {name: FieldInfo(name=name, default=_export_text(spec.get("default")),
                                  kind=spec.get("kind", ""),
                                  choices=tuple(spec.get("choices", ())))
                  for name, spec in (entry.get("fields") or {}).items()}
        menu = Menu(path=entry["path"], source=entry["source"], variants=[MenuVariant(
            conditions=[], settings=entry.get("kind") == "settings",
            primary_keys=tuple(entry.get("primary_keys", ())), fields=fields)])
        menus[entry["path"]] = menu
    for entry in overlay.get("fields", []):  # fields a known menu lacks
        for variant in menus[entry["path"]].variants:
            for name, spec in entry["fields"].items():
                variant.fields[name] = FieldInfo(
                    name=name, default=_export_text((spec or {}).get("default")),
                    kind=(spec or {}).get("kind", ""))
    for entry in overlay.get("defaults", []):  # what /export omits, where the model errs
        for variant in menus[entry["path"]].variants:
            _retype(variant, entry["field"], lambda info, e=entry: dataclasses.replace(
                info, default=_export_text(e["default"])))
    for path in overlay.get("prints_defaults", {}).get("paths", []):
        menus[path].prints_defaults = True
    for entry in overlay.get("types", []):
        menu = menus[entry["path"]]
        for variant in menu.variants:
            for name in entry["fields"]:
                if name in variant.fields:
                    variant.fields[name] = _typed(variant.fields[name], entry)
            variant.versioned = [(c, _typed(i, entry) if i.name in entry["fields"] else i)
                                 for c, i in variant.versioned]
    return [Reference(path=r["path"], field=r["field"], to=r["to"], key=r.get("key", "name"),
                      builtin=tuple(str(b) for b in r.get("builtin", ())),
                      many=bool(r.get("many")))
            for r in overlay.get("references", [])]


def _retype(variant: MenuVariant, name: str, change: Any) -> None:
    if name in variant.fields:
        variant.fields[name] = change(variant.fields[name])
    variant.versioned = [(c, change(i) if i.name == name else i) for c, i in variant.versioned]


def _typed(info: FieldInfo, entry: dict[str, Any]) -> FieldInfo:
    return FieldInfo(name=info.name, default=info.default, required=info.required,
                     read_only=info.read_only, kind=entry["kind"],
                     choices=tuple(entry.get("choices", ())),
                     words=tuple(entry.get("words", info.words)))


_load_lock = threading.Lock()


def load(path: str | None = None) -> Model:
    """The model: community.routeros's data (the file bootstrap extracted) plus the overlay.

    Built once per process, under a lock: a push's threads all ask at once, and CPython
    3.11.7's ast.parse in parallel threads fails with "AST constructor recursion depth
    mismatch" (CPython gh-106905); a 200-device bench push lost devices to it. Once built,
    it is returned without the lock: every managed-item check asks for it, and 50 threads
    queueing on the lock were a third of a push's planning (issue #17).
    """
    model = _built.get(path)
    if model is None:
        with _load_lock:
            model = _built[path] = _load(path)
    return model


_built: dict[str | None, Model] = {}


@cache
def _load(path: str | None) -> Model:
    api_data = Path(path or os.environ.get("SIMPUL_ROUTEROS_API_DATA") or API_DATA)
    if not api_data.is_file():
        raise ModelError(f"{api_data}: missing; run ./test or ./run once (deploy/bootstrap.sh "
                         "fetches the pinned ansible wheel and extracts it)")
    menus = read_api_data(api_data.read_text(encoding="utf-8"))
    versions = _versions_in(menus)
    overlay = yaml.safe_load(OVERLAY.read_text(encoding="utf-8")) or {}
    references = _apply_overlay(menus, overlay)
    origin = api_data.with_name("ORIGIN").read_text().strip() if api_data.with_name(
        "ORIGIN").is_file() else "community.routeros"
    return Model(menus=menus, references=references,
                 versions=[v for v in versions if v[0] >= 7], origin=origin)


def definition_order(model: Model, paths: set[str] | list[str]) -> list[str]:
    """`paths` ordered so that a menu comes after every menu it references (a stable
    topological order; ties keep their given order)."""
    wanted = list(dict.fromkeys(paths))
    def targets(ref: Reference) -> set[str]:
        if ref.to == "/interface":  # any interface menu (bridge, vlan, ...)
            return {p for p in wanted if p.startswith("/interface ")}
        return {ref.to}

    deps = {p: {t for r in model.references_from(p) for t in targets(r)
                if t in wanted and t != p} for p in wanted}
    ordered: list[str] = []
    placed: set[str] = set()
    while len(ordered) < len(wanted):
        ready = [p for p in wanted if p not in placed and deps[p] <= placed]
        if not ready:  # a cycle: keep the rest in the given order
            ready = [p for p in wanted if p not in placed]
        ordered.append(ready[0])
        placed.add(ready[0])
    return ordered
