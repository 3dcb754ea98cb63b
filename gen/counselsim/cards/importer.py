"""Import role cards written in the Interactive Agents release's format.

A release folder holds `role_cards/<index>.txt` (or the .txt files directly), one profile each as `key：value`
lines, the Big Five as bullets under their key, and `chief_complaints.json`, a list whose entry `[index]` is the
card's chief complaint. A value may run on over following lines that do not start a new key. Every card either
becomes a complete RoleCard or comes back with each problem's file, line and field. The keys and level words are
in interactive_agents.yaml.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from pydantic import ValidationError

from counselsim.errors import InputError
from counselsim.resources import read_yaml
from counselsim.schemas import BigFive, Level, RoleCard

FORMAT = "interactive-agents"
COMPLAINTS_FILE = "chief_complaints.json"

_INDEX_NAME = re.compile(r"^(0|[1-9][0-9]*)\.txt$")
_ID_PREFIX = re.compile(r"^[A-Za-z0-9_.:-]+$")  # RoleCard.id's alphabet
_BULLET = re.compile(r"^\s*[-*•·]\s*(.*)$")
# A label is short and holds no sentence punctuation, so prose with a colon in it is not mistaken for a key.
_LABELLED = re.compile(r"^([^:：，。,.；;！？!?]{1,48}?)\s*[:：]\s*(.*)$")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SEPARATORS = "。，,.；;：:、-—~～ \t"
_PARENS = {"（": "）", "(": ")"}
_TRAITS = tuple(BigFive.model_fields)
_TEXT_FIELDS = ("gender", "education", "occupation", "marital_status", "family_relationships")
_REQUIRED = ("gender", "age", "education", "occupation", "marital_status", "family_relationships", "big_five",
             "resistance")


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: field '{self.field}': {self.message}"


@dataclass
class Rejected:
    """A card that did not import, with every problem found in it."""

    id: str | None
    file: Path
    problems: list[Problem]


@dataclass
class ImportResult:
    cards: list[RoleCard]
    rejected: list[Rejected]


def _norm(label: str) -> str:
    return " ".join(label.split()).casefold()


@dataclass(frozen=True)
class _Tables:
    fields: dict[str, str]  # normalized label -> RoleCard field
    traits: dict[str, str]  # normalized label -> BigFive field
    levels: list[tuple[str, Level]]  # casefolded level word, longest first
    age: re.Pattern[str]
    example: dict[str, str]  # RoleCard or BigFive field -> the label to suggest
    level_examples: str


@cache
def _tables() -> _Tables:
    data = read_yaml("interactive_agents.yaml")
    levels = [(word.casefold(), Level(level)) for level, words in data["levels"].items() for word in words]
    units = "|".join(re.escape(u) for u in sorted(data["age_units"], key=len, reverse=True))
    return _Tables(
        fields={_norm(label): f for f, labels in data["fields"].items() for label in labels},
        traits={_norm(label): t for t, labels in data["traits"].items() for label in labels},
        levels=sorted(levels, key=lambda wl: len(wl[0]), reverse=True),
        age=re.compile(rf"^(\d{{1,3}})\s*(?:{units})?\s*(?:[（(][^）)]*[）)])?$", re.IGNORECASE),
        example={f: labels[0] for f, labels in {**data["fields"], **data["traits"]}.items()},
        level_examples="、".join(words[0] for words in data["levels"].values()),
    )


@dataclass
class _Value:
    """A labelled value and the lines it spans (its own and any it runs on over)."""

    line: int
    parts: list[str]
    end: int

    @property
    def text(self) -> str:
        return "\n".join(p for p in self.parts if p).strip()


@dataclass
class _Parsed:
    values: dict[str, _Value] = field(default_factory=dict)  # by RoleCard field
    traits: dict[str, _Value] = field(default_factory=dict)  # by BigFive field
    problems: list[Problem] = field(default_factory=list)

    def field_at(self, line: int) -> str:
        for name, v in self.traits.items():
            if v.line <= line <= v.end:
                return f"big_five.{name}"
        return next((name for name, v in self.values.items() if v.line <= line <= v.end), "(card)")


def _label(text: str) -> tuple[str | None, str]:
    m = _LABELLED.match(text)
    return (m.group(1).strip(), m.group(2).strip()) if m else (None, text)


def _parse(path: Path, lines: list[str]) -> _Parsed:
    t = _tables()
    out = _Parsed()
    current: str | None = None  # the field later lines run on into; "" after a line already reported
    trait: str | None = None

    def problem(line: int, name: str, message: str) -> None:
        out.problems.append(Problem(path, line, name, message))

    for n, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text:
            continue
        bullet = _BULLET.match(raw)
        label, value = _label(bullet.group(1) if bullet else text)
        key = _norm(label) if label is not None else None
        if current == "big_five" and key in t.traits:
            trait = t.traits[key]
            if trait in out.traits:
                problem(n, f"big_five.{trait}", f"given twice (first on line {out.traits[trait].line})")
            else:
                out.traits[trait] = _Value(n, [value], n)
            out.values["big_five"].end = n
            continue
        if label is not None and not bullet and not raw[0].isspace():
            name = t.fields.get(key)
            if name is not None:
                trait = None
                if name in out.values:
                    problem(n, name, f"given twice (first on line {out.values[name].line})")
                    current = ""
                else:
                    out.values[name] = _Value(n, [value], n)
                    current = name
                continue
            # A chief complaint is free text, so a 'x：y' line inside it is just text.
            if current != "chief_complaint":
                expected = ", ".join(t.example[f] for f in (*_REQUIRED, "chief_complaint"))
                problem(n, label, f"unknown key (expected one of {expected})")
                current = ""
                continue
        if current is None:
            problem(n, "(card)", f"text before the first key: '{text[:30]}'")
        elif current == "big_five":
            if bullet or trait is None:
                traits = ", ".join(t.example[f] for f in _TRAITS)
                what = f"unknown trait '{label}'" if label else f"'{text[:30]}' is not a trait"
                problem(n, "big_five", f"{what} (expected bullets such as ' - 开放性：中等' for {traits})")
                continue
            out.traits[trait].parts.append(text)
            out.traits[trait].end = out.values["big_five"].end = n
        elif current:
            out.values[current].parts.append(text)
            out.values[current].end = n
    return out


def _level(text: str) -> tuple[Level, str] | None:
    """The level word a value opens with and the note after it: '中等。note', '中高，note', '中高（note）', '中等'."""
    folded = text.casefold()
    for word, level in _tables().levels:
        if not folded.startswith(word):
            continue
        after = text[len(word):]
        rest = after.strip()
        if not rest:
            return level, ""
        close = _PARENS.get(rest[0])
        if close is not None and rest.find(close) == len(rest) - 1:
            return level, rest[1:-1].strip()
        if close is not None:
            return level, rest
        if after[0].isspace() or rest[0] in _SEPARATORS:
            return level, rest.lstrip(_SEPARATORS)
        # otherwise the word goes on ('中等偏上' is not '中等'): try a shorter word, then give up
    return None


def _level_problem(text: str) -> str:
    return f"'{text[:20]}' does not start with a level word such as {_tables().level_examples}"


def _card(path: Path, card_id: str, index: int, parsed: _Parsed, complaint: str | None,
          complaint_problem: str | None, source: str, language: str) -> RoleCard | list[Problem]:
    t = _tables()
    problems = list(parsed.problems)
    values = parsed.values

    def problem(line: int, name: str, message: str) -> None:
        problems.append(Problem(path, line, name, message))

    data: dict[str, object] = {"id": card_id, "language": language, "source": source}
    for name in _REQUIRED:
        if name not in values:
            problem(1, name, f"missing (expected a line '{t.example[name]}：…')")
    for name in _TEXT_FIELDS:
        if name in values:
            data[name] = values[name].text
    if "age" in values:
        m = t.age.match(values["age"].text)
        if m:
            data["age"] = int(m.group(1))
        else:
            problem(values["age"].line, "age", f"'{values['age'].text[:20]}' is not an age such as 25岁 or 25")
    if "big_five" in values:
        big_five = {}
        if values["big_five"].parts[0]:
            problem(values["big_five"].line, "big_five", "expected the traits as bullets on the following lines")
        for trait in _TRAITS:
            v = parsed.traits.get(trait)
            if v is None:
                problem(values["big_five"].line, f"big_five.{trait}",
                        f"missing (expected a bullet ' - {t.example[trait]}：…')")
            elif (level := _level(v.text)) is None:
                problem(v.line, f"big_five.{trait}", _level_problem(v.text))
            else:
                big_five[trait] = {"level": level[0], "note": level[1]}
        if len(big_five) == len(_TRAITS) and not values["big_five"].parts[0]:
            data["big_five"] = big_five
    if "resistance" in values:
        level = _level(values["resistance"].text)
        if level is None:
            problem(values["resistance"].line, "resistance", _level_problem(values["resistance"].text))
        elif not level[1]:
            problem(values["resistance"].line, "resistance.reasoning",
                    "missing: the level needs a reason after it, such as '低。愿意寻求帮助'")
        else:
            data["resistance"] = {"level": level[0], "reasoning": level[1]}
    if "chief_complaint" in values:
        if complaint is not None:
            problem(values["chief_complaint"].line, "chief_complaint",
                    f"given twice: here and as {COMPLAINTS_FILE}[{index}]")
        else:
            data["chief_complaint"] = values["chief_complaint"].text
    elif complaint_problem is not None:
        problem(1, "chief_complaint", complaint_problem)
    else:
        data["chief_complaint"] = complaint
    try:
        card = RoleCard.model_validate(data)
    except ValidationError as err:
        for e in err.errors():
            loc = [str(p) for p in e["loc"]]
            if loc[0] not in data:  # a field already reported above
                continue
            where = parsed.traits.get(loc[1]) if loc[0] == "big_five" and len(loc) > 1 else values.get(loc[0])
            empty = e["type"] == "string_too_short" and e.get("ctx", {}).get("min_length") == 1
            problem(where.line if where else 1, ".".join(loc), "is empty" if empty else e["msg"])
        return sorted(problems, key=lambda p: p.line)
    return sorted(problems, key=lambda p: p.line) or card


def _read_lines(path: Path) -> tuple[list[str], Problem | None]:
    try:
        raw = path.read_bytes()
    except OSError as e:  # a folder named like a card, a symlink loop, no permission
        return [], Problem(path, 1, "(card)", f"cannot be read ({e.strerror or e})")
    try:
        return raw.decode("utf-8-sig").split("\n"), None
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        message = f"not UTF-8 text ({e.reason} at byte {e.start}); save the file as UTF-8"
    readable = [_readable(b) for b in raw.removeprefix(b"\xef\xbb\xbf").split(b"\n")]
    return [], Problem(path, line, _parse(path, readable).field_at(line), message)


def _readable(line: bytes) -> str:
    """A line that is not UTF-8, decoded only well enough to find the key it belongs to."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as e:
        head = line[: e.start].decode("utf-8")
    if "：" in head or ":" in head:  # the key is intact; the bad bytes are in the value
        return line.decode("utf-8", errors="replace")
    # GB18030 is the usual other encoding of Chinese text.
    return line.decode("gb18030", errors="replace")


def _load_complaints(path: Path) -> list[object]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: chief complaints file not found") from None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from None
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of chief complaints by card index, got {type(data).__name__}")
    return data


def _complaint(complaints: list[object] | None, complaints_path: Path, index: int) -> tuple[str | None, str | None]:
    """The chief complaint of card `index` from the JSON list, or why there is none."""
    if complaints is None:
        return None, f"missing: no chief-complaint line in the card and no {complaints_path}"
    if index >= len(complaints) or complaints[index] is None:
        return None, f"missing: {complaints_path} has no entry [{index}] (it has {len(complaints)})"
    if not isinstance(complaints[index], str):
        return None, f"{complaints_path}[{index}] is {type(complaints[index]).__name__}, not text"
    return complaints[index], None


def import_interactive_agents(folder: str | Path, complaints: str | Path | None = None,
                              id_prefix: str = "ia") -> ImportResult:
    """Every card under `folder`, in index order, as a RoleCard `<id_prefix>-<index>` or a Rejected entry. The
    chief complaints come from `complaints`, else `folder/chief_complaints.json` if there is one. The release
    numbers its train and test cards from 0 each, so pools of both need different prefixes."""
    if not _ID_PREFIX.match(id_prefix):
        raise InputError(f"id prefix '{id_prefix}': use only letters, digits and _ . : -")
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder of Interactive Agents role cards")
    cards_dir = folder / "role_cards" if (folder / "role_cards").is_dir() else folder
    files = sorted(cards_dir.glob("*.txt"))
    if not files:
        raise InputError(f"{cards_dir}: no role-card .txt files")
    complaints_path = Path(complaints) if complaints is not None else folder / COMPLAINTS_FILE
    entries = _load_complaints(complaints_path) if complaints is not None or complaints_path.exists() else None

    indexed = sorted((int(m.group(1)), f) for f in files if (m := _INDEX_NAME.match(f.name)))
    result = ImportResult([], [])
    for index, path in indexed:
        lines, problem = _read_lines(path)
        if problem is None and not any(line.strip() for line in lines):
            problem = Problem(path, 1, "(card)", "file is empty")
        if problem is not None:
            result.rejected.append(Rejected(f"{id_prefix}-{index}", path, [problem]))
            continue
        complaint, complaint_problem = _complaint(entries, complaints_path, index)
        source = f"{FORMAT}:{path.relative_to(folder).as_posix()}"
        language = "zh" if _CJK.search("\n".join([*lines, complaint or ""])) else "en"
        card_id = f"{id_prefix}-{index}"
        card = _card(path, card_id, index, _parse(path, lines), complaint, complaint_problem, source, language)
        if isinstance(card, RoleCard):
            result.cards.append(card)
        else:
            result.rejected.append(Rejected(card_id, path, card))
    for path in files:
        if not _INDEX_NAME.match(path.name):
            message = "the file name must be the card's index in the chief complaints, such as 0.txt"
            result.rejected.append(Rejected(None, path, [Problem(path, 1, "id", message)]))
    return result
