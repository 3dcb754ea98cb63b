"""Config errors as the user reads them: file, YAML line and dotted field path."""
from __future__ import annotations

import re
from typing import Any

import yaml
from pydantic import ValidationError


def line_of(root: yaml.Node | None, path: tuple[Any, ...]) -> int | None:
    """The 1-based line of a dotted field path in a composed YAML document, or of its nearest parent."""
    node, line = root, None
    for key in path:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(key)), None)
            if match is None:
                key_node = next((k for k, _ in node.value if k.value == str(key)), None)
                return key_node.start_mark.line + 1 if key_node else line
            line = next(k for k, _ in node.value if k.value == str(key)).start_mark.line + 1
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


_FIELD_IN_MESSAGE = re.compile(r"\b([a-z_]+)(?:\.[A-Za-z0-9_-]+)+")


def duplicate_key(node: yaml.Node | None, path: tuple[str, ...] = ()) -> tuple[str, int, int] | None:
    """The first key given twice in one mapping, as (dotted path, line, line of the first); YAML itself would
    silently keep the last."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for k, v in node.value:
            key, line = str(k.value), k.start_mark.line + 1
            if key in seen:
                return ".".join((*path, key)), line, seen[key]
            seen[key] = line
            found = duplicate_key(v, (*path, key))
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            found = duplicate_key(v, (*path, str(i)))
            if found:
                return found
    return None


def format_validation_error(source: str, err: ValidationError, yaml_root: yaml.Node | None = None) -> str:
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        if not loc and isinstance(yaml_root, yaml.MappingNode):
            # A check across fields has no location of its own; its message names the field it is about.
            named = _FIELD_IN_MESSAGE.search(e["msg"])
            if named and any(k.value == named.group(1) for k, _ in yaml_root.value):
                loc = tuple(named.group(0).split("."))
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = line_of(yaml_root, loc) if yaml_root is not None else None
        where = f"{source}:{line}" if line else source
        detail = e["msg"]
        if e["type"] == "extra_forbidden":
            detail = "unknown key"
        elif "input" in e and not isinstance(e["input"], dict):
            detail += f" (got {e['input']!r})"
        lines.append(f"{where}: field '{field}': {detail}")
    return "\n".join(lines)
