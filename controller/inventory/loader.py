"""Read the inventory's YAML files and build its models: defaults < group < item, each key
keeping the file:line it came from, every problem collected rather than raised."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from controller.inventory.models import (
    KEY_FIELD,
    SECTIONS,
    SINGULAR,
    Inventory,
    Link,
    Site,
    SiteKind,
)
from controller.inventory.yaml_lines import LineMap, Location, Problem, locate, parse_yaml
from controller.secrets import SecretStore
from controller.units import Allocation


@dataclass
class RawItem:
    """An item as written, before merging: its section, its mapping, its place in the list."""

    section: str
    data: LineMap
    index: int


def _yaml_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def _display(directory: Path, path: Path) -> str:
    return os.path.normpath(os.path.join(str(directory), str(path.relative_to(directory))))


def _label(section: str, data: dict[str, Any], index: int) -> str:
    key = data.get(KEY_FIELD.get(section, "name"))
    if section == "links" and not key:
        key = _link_label(data)
    return f"{SINGULAR[section]} {key!r}" if key else f"{section}[{index}]"


def _link_label(data: dict[str, Any]) -> str | None:
    ends = []
    for side in ("a", "b"):
        end = data.get(side)
        if not isinstance(end, dict):
            return None
        ends.append(end.get("provider") or f"{end.get('device')}:{end.get('interface')}")
    return "--".join(ends)


def _describe(error: dict[str, Any]) -> str:
    loc = [str(p) for p in error["loc"] if not str(p).startswith(("function-", "lax-"))]
    # Union members appear in loc as type names; keep only real field names.
    loc = [p for p in loc if not p[:1].isupper() and "[" not in p]
    field_name = ".".join(loc) or "value"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown field {field_name!r}"
    if kind == "missing":
        return f"missing field {field_name!r}"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"unknown {field_name} {error['input']!r} (expected {expected})"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{field_name}: {message}"


class Loader:
    """One load of an inventory directory: its raw items, merged items and problems."""

    def __init__(self, directory: Path, secrets: SecretStore | None):
        self.directory = directory
        self.secrets = secrets
        self.problems: list[Problem] = []
        self.defaults: dict[str, LineMap] = {}
        self.groups: dict[str, LineMap] = {}
        self.raw: list[RawItem] = []
        self.unreadable = False
        self.merged: dict[tuple[str, str], LineMap] = {}

    def problem(self, where: Location, message: str) -> None:
        """Collect a problem once (a shared default's problem shows on every site using it)."""
        found = Problem(where, message)
        if found not in self.problems:
            self.problems.append(found)

    # --- reading files
    def read(self) -> None:
        if not self.directory.is_dir():
            self.problem(Location(str(self.directory), 0), "inventory directory not found")
            return
        files = _yaml_files(self.directory)
        if not files:
            self.problem(Location(str(self.directory), 0), "no .yaml files in the inventory")
        for path in files:
            self._read_file(path)

    def _read_file(self, path: Path) -> None:
        display = _display(self.directory, path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problem(Location(display, 0), f"cannot read file: {exc}")
            self.unreadable = True
            return
        doc, problems = parse_yaml(text, display)
        self.problems.extend(problems)
        if doc is None:
            self.unreadable = self.unreadable or bool(problems)
            return
        if not isinstance(doc, LineMap):
            self.problem(Location(display, 1), "a file must be a mapping of sections")
            return
        for section, body in doc.items():
            where = doc.key_locations[section]
            if section == "defaults":
                self._read_defaults(body, where)
            elif section == "groups":
                self._read_groups(body, where)
            elif section in SECTIONS:
                if not isinstance(body, list):
                    self.problem(where, f"section {section!r} must be a list")
                    continue
                for index, item in enumerate(body):
                    if not isinstance(item, LineMap):
                        self.problem(where, f"{section}[{index}] must be a mapping")
                        continue
                    self.raw.append(RawItem(section, item, index))
            else:
                known = ", ".join(["defaults", "groups", *SECTIONS])
                self.problem(where, f"unknown section {section!r} (expected one of: {known})")

    def _read_defaults(self, body: Any, where: Location) -> None:
        if not isinstance(body, LineMap):
            self.problem(where, "'defaults' must be a mapping of section: values")
            return
        for section, values in body.items():
            at = body.key_locations[section]
            if section not in SECTIONS:
                self.problem(at, f"defaults: unknown section {section!r}")
            elif not isinstance(values, LineMap):
                self.problem(at, f"defaults.{section} must be a mapping")
            elif section in self.defaults:
                self.problem(at, f"defaults.{section} is given twice")
            else:
                self.defaults[section] = values

    def _read_groups(self, body: Any, where: Location) -> None:
        if not isinstance(body, LineMap):
            self.problem(where, "'groups' must be a mapping of name: values")
            return
        for name, values in body.items():
            at = body.key_locations[name]
            if not isinstance(values, LineMap):
                self.problem(at, f"group {name!r} must be a mapping")
            elif name in self.groups:
                first = self.groups[name].location
                self.problem(at, f"duplicate group {name!r} (first at {first})")
            else:
                self.groups[name] = values

    # --- building models
    def merge(self, item: RawItem) -> LineMap | None:
        """defaults < group < item, each key keeping the line it came from."""
        layers: list[LineMap] = []
        if item.section in self.defaults:
            layers.append(self.defaults[item.section])
        group_name = item.data.get("group")
        if group_name is not None:
            group = self.groups.get(group_name) if isinstance(group_name, str) else None
            if group is None:
                at = item.data.key_locations["group"]
                label = _label(item.section, item.data, item.index)
                self.problem(at, f"{label}: unknown group {group_name!r}")
                return None
            layers.append(group)
        layers.append(item.data)
        merged = LineMap()
        merged.location = item.data.location
        merged.key_locations = {}
        for layer in layers:
            for key, value in layer.items():
                if isinstance(value, LineMap) and isinstance(merged.get(key), LineMap):
                    value = self._merge_nested(merged[key], value)
                merged[key] = value
                merged.key_locations[key] = layer.key_locations[key]
        if item.section == "sites":
            self._floor_of_kind(merged)
        return merged

    def _floor_of_kind(self, merged: LineMap) -> None:
        """A floor written as a mapping by site kind (defaults.sites.floor) becomes the floor of
        the site's kind; each entry is checked once, at its own line."""
        by_kind = merged.get("floor")
        if not isinstance(by_kind, LineMap) or set(by_kind) <= {"down", "up"}:
            return
        kinds = get_args(SiteKind)
        chosen = None
        for kind, value in by_kind.items():
            at = by_kind.key_locations[kind]
            if kind not in kinds:
                self.problem(at, f"floor: unknown site kind {kind!r} "
                             f"(expected one of {', '.join(kinds)})")
                continue
            try:
                Allocation.parse(value)
            except ValueError as exc:
                self.problem(at, f"floor.{kind}: {exc}")
                continue
            if kind == merged.get("kind"):
                chosen = (value, at)
        if chosen is None:
            del merged["floor"]
            del merged.key_locations["floor"]
        else:
            merged["floor"], merged.key_locations["floor"] = chosen

    @staticmethod
    def _merge_nested(base: LineMap, top: LineMap) -> LineMap:
        out = LineMap({**base, **top})
        out.location = top.location
        out.key_locations = {**base.key_locations, **top.key_locations}
        return out

    def build(self) -> Inventory:
        inventory = Inventory()
        seen: dict[tuple[str, str], Location] = {}
        for item in self.raw:
            merged = self.merge(item)
            if merged is None:
                continue
            model_cls = SECTIONS[item.section]
            label = _label(item.section, merged, item.index)
            try:
                model = model_cls.model_validate(dict(merged))
            except ValidationError as exc:
                for error in exc.errors():
                    where = error.get("ctx", {}).get("where", ())  # inside a mapping (vars)
                    loc = (*error["loc"], *where)
                    self.problem(locate(merged, loc),
                                 f"{label}: {_describe({**error, 'loc': loc})}")
                continue
            key = self._key(item.section, model)
            if (item.section, key) in seen:
                first = seen[(item.section, key)]
                self.problem(merged.location, f"duplicate {SINGULAR[item.section]} {key!r} "
                             f"(first at {first})")
                continue
            seen[(item.section, key)] = merged.location
            self.merged[(item.section, key)] = merged
            inventory.locations[(item.section, key)] = merged.location
            self._add(inventory, item.section, key, model)
        return inventory

    @staticmethod
    def _key(section: str, model: BaseModel) -> str:
        if isinstance(model, Site):
            return model.code
        if isinstance(model, Link):
            return model.label
        return str(model.name)  # type: ignore[attr-defined]

    @staticmethod
    def _add(inventory: Inventory, section: str, key: str, model: BaseModel) -> None:
        if section == "links":
            inventory.links.append(model)  # type: ignore[arg-type]
        else:
            getattr(inventory, section)[key] = model

