"""YAML that remembers where things were written: every mapping and key keeps its file:line,
so each inventory problem is reported as `path:line: message`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True, order=True)
class Location:
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, order=True)
class Problem:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.location.path, "line": self.location.line, "message": self.message}


class InventoryError(Exception):
    """Every problem of an inventory that cannot be loaded, one `path:line: message` a line."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class LineMap(dict):  # type: ignore[type-arg]
    """A YAML mapping that knows where it and each of its keys were written."""

    location: Location
    key_locations: dict[Any, Location]


class _LineLoader(yaml.SafeLoader):
    path = "<string>"
    duplicate_keys: list[Problem]


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    result = LineMap()
    result.location = Location(loader.path, node.start_mark.line + 1)
    result.key_locations = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        where = Location(loader.path, key_node.start_mark.line + 1)
        if key in result:
            loader.duplicate_keys.append(Problem(where, f"key {key!r} is written twice"))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_locations[key] = where
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)


def parse_yaml(text: str, display_path: str) -> tuple[Any, list[Problem]]:
    """The document (its mappings as LineMaps) and its problems: duplicate keys, syntax."""
    loader = _LineLoader(text)
    loader.path = display_path
    loader.duplicate_keys = []
    try:
        return loader.get_single_data(), loader.duplicate_keys
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or "syntax error"
        return None, [Problem(Location(display_path, line), f"YAML syntax error: {what}")]
    finally:
        loader.dispose()


def locate(data: LineMap, loc: tuple[Any, ...]) -> Location:
    """Follow a pydantic error location into the raw YAML to find the nearest line."""
    where = data.location
    node: Any = data
    for part in loc:
        if isinstance(node, LineMap) and part in node:
            where = node.key_locations.get(part, where)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            if isinstance(node, LineMap):
                where = node.location
        else:
            break
    return where

