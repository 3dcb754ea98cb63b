"""safe_yaml and jsonl: user files read without alias expansion, JSON Lines that split only where they should."""
from __future__ import annotations

import json

import pytest
import yaml
from counselsim import safe_yaml
from counselsim.errors import InputError
from counselsim.jsonl import DuplicateKey, dumps_line, loads_strict, split_lines


def test_plain_yaml_loads_as_before():
    root, data = safe_yaml.load("a: 1\nb: [x, y]\n")
    assert data == {"a": 1, "b": ["x", "y"]} and isinstance(root, yaml.MappingNode)


@pytest.mark.parametrize("text, line", [("a: &x 1\nb: *x\n", 2), ("loop: &l [*l]\n", 1)])
def test_aliases_are_refused_by_line(text, line):
    with pytest.raises(yaml.YAMLError) as e:
        safe_yaml.load(text)
    assert e.value.problem_mark.line + 1 == line and "not allowed" in e.value.problem


def test_config_size_and_kind_are_checked(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * 2048)
    with pytest.raises(InputError, match="larger than 1 KiB"):
        safe_yaml.read_config(big, limit=1024)
    with pytest.raises(InputError, match="is a folder"):
        safe_yaml.read_config(tmp_path)
    with pytest.raises(InputError, match="not found"):
        safe_yaml.read_config(tmp_path / "none.yaml")


def test_json_lines_escape_every_line_separator():
    line = dumps_line({"t": "a\u2028b\u2029c\u0085d é"})
    assert line.count("\n") == 1 and len(line.splitlines()) == 1 and "é" in line
    assert json.loads(line) == {"t": "a\u2028b\u2029c\u0085d é"}


def test_json_lines_are_split_on_newlines_only():
    assert split_lines('{"t": "a\u2028b"}\n{}') == ['{"t": "a\u2028b"}', "{}"]


def test_duplicate_json_keys_are_refused():
    with pytest.raises(DuplicateKey, match="'age' given twice"):
        loads_strict('{"age": 30, "age": 31}')
    assert loads_strict('{"a": {"b": 1}, "b": 2}') == {"a": {"b": 1}, "b": 2}
