"""Strict parsers for model outputs. They are lenient about formatting (markdown, quotes, case, dashes, code
fences, a Chinese colon) and strict about content: a value that names no category, or more than one, or a negated
one, is a parse failure, never a guess.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from counselsim.engines.parsing import ParseError, json_object

# --- normalization ----------------------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[-–—_/\\.:：·•|,，、;；+&]+")
_STRIP = re.compile(r"[*#`\"'“”‘’「」『』()\[\]{}（）【】<>《》!?！？。…~]+")
_SPACES = re.compile(r"\s+")
_CJK = re.compile(r"[\u3400-\u9fff]")
# Words that turn a mention into its opposite ("not resistance", "非阻抗"); a value holding one outside the
# category names it mentions is refused unless it is exactly a name.
_NEGATIONS = re.compile(r"(?<![a-z])(?:not|no|non|never|neither|nor|without|isn ?t|n't)(?![a-z])|不是|并非|没有|不|非|无")


def normalize(text: str) -> str:
    """Lowercase, NFKC, separators to single spaces, quotes/brackets/markdown removed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _STRIP.sub(" ", text)
    text = _SEPARATORS.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


class AliasIndex:
    """Normalized names of a closed set of categories -> category id. Two categories sharing a name is a
    configuration error (raised here)."""

    def __init__(self, names: Mapping[str, Iterable[str]]) -> None:
        self.by_alias: dict[str, str] = {}
        for category, aliases in names.items():
            for alias in aliases:
                key = normalize(alias)
                if not key:
                    continue
                other = self.by_alias.get(key)
                if other is not None and other != category:
                    raise ValueError(f"name '{alias}' is shared by '{other}' and '{category}'")
                self.by_alias[key] = category
        # Longest first, so "denying blaming" is found before "blaming" (both name the same category anyway).
        self._patterns = [(self._pattern(a), c) for a, c in sorted(self.by_alias.items(), key=lambda x: -len(x[0]))]

    @property
    def categories(self) -> set[str]:
        return set(self.by_alias.values())

    @staticmethod
    def _pattern(alias: str) -> re.Pattern[str]:
        if _CJK.search(alias):
            return re.compile(re.escape(alias))
        return re.compile(r"(?<![a-z0-9])" + re.escape(alias) + r"(?![a-z0-9])")

    def match(self, value: str) -> str | None:
        """The one category `value` names, or None: exact names first, else a single category mentioned with no
        negation beside it."""
        key = normalize(value)
        if not key:
            return None
        if key in self.by_alias:
            return self.by_alias[key]
        found: set[str] = set()
        rest = key
        for pattern, category in self._patterns:
            if pattern.search(rest):
                found.add(category)
                rest = pattern.sub(" ", rest)
        if len(found) != 1 or _NEGATIONS.search(rest):
            return None
        return found.pop()


# --- fields of a JSON object (found by counselsim.engines.parsing.json_object) ---------------------------------------

def string_fields(obj: Mapping[str, Any], keys: Iterable[str], max_chars: int | None = None) -> dict[str, str]:
    """The named string fields of a parsed object, each present and non-blank (whitespace collapsed); keys beyond
    these are ignored."""
    out = {}
    for key in keys:
        value = obj.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ParseError(f"field '{key}' is missing or empty")
        value = _SPACES.sub(" ", value).strip()
        if max_chars is not None and len(value) > max_chars:
            raise ParseError(f"field '{key}' is longer than {max_chars} characters")
        out[key] = value
    return out


# --- "Behavior: ... / Reason: ..." label outputs (RECAP Tables 8 and 9; "Reaction:" for the reaction types) ------

BEHAVIOR_KEYS = ("behavior", "behaviour", "category", "label", "predicted category", "行为", "类别", "标签", "行为类别")
# The reaction-type step names its answer "reaction"; the behaviour keys are accepted there too.
REACTION_KEYS = ("reaction", "reaction type", "reaction_type", "type", "反应", "反应类型", "类型", *BEHAVIOR_KEYS)
REASON_KEYS = ("reason", "rationale", "explanation", "justification", "理由", "原因", "解释", "依据")


def _key_pattern(keys: Iterable[str]) -> str:
    return "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))


@cache
def _line_pattern(keys: tuple[str, ...]) -> re.Pattern[str]:
    """A key line: one of `keys` or a reason key, a colon, the value."""
    return re.compile(
        r"^[\s>*#_\-•\d.)]*[\"']?(?P<key>" + _key_pattern(keys + REASON_KEYS) + r")[\"']?\s*(?:\*\*|__)?\s*[:：]"
        r"\s*(?:\*\*|__)?\s*(?P<value>.*)$",
        re.IGNORECASE,
    )


@dataclass
class LabelParse:
    category: str
    reason: str


def _field_lines(text: str, keys: tuple[str, ...]) -> list[tuple[str, str]]:
    """(kind, value) per key line, kind "behavior" (a line of one of `keys`) or "reason"; a reason runs on over
    the following lines that are not key lines, a behavior whose line is empty takes the next non-empty line."""
    line = _line_pattern(keys)
    lines = text.splitlines()
    fields: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        m = line.match(lines[i])
        if not m:
            i += 1
            continue
        kind = "reason" if m.group("key").lower() in REASON_KEYS else "behavior"
        value = m.group("value").strip()
        i += 1
        if kind == "behavior" and not value:
            while i < len(lines) and not lines[i].strip():
                i += 1
            if i < len(lines) and not line.match(lines[i]):
                value = lines[i].strip()
                i += 1
        elif kind == "reason":
            more = []
            while i < len(lines) and not line.match(lines[i]):
                more.append(lines[i].strip())
                i += 1
            value = " ".join([value, *more])
        fields.append((kind, _SPACES.sub(" ", value).strip().strip("*_\"'“”,").strip()))
    return fields


def parse_label(text: str, index: AliasIndex, keys: tuple[str, ...] = BEHAVIOR_KEYS) -> LabelParse:
    """A label and its reason from a model output: a JSON object {"behavior", "reason"}, or "Behavior:" and
    "Reason:" lines, or a first line that is exactly a category name followed by the reason. `keys` name the
    label (first the one the prompt asks for: "behavior", or "reaction" with REACTION_KEYS). Both parts are
    required; anything else raises ParseError."""
    text = text.strip()
    if not text:
        raise ParseError("empty output")
    if "{" in text:
        try:
            obj = json_object(text)
        except ParseError:
            obj = None
        if obj is not None:
            lowered = {str(k).lower(): v for k, v in obj.items()}
            behavior = next((lowered[k] for k in keys if isinstance(lowered.get(k), str)), None)
            reason = next((lowered[k] for k in REASON_KEYS if isinstance(lowered.get(k), str)), None)
            if behavior is not None:
                return _checked(behavior, reason, index)
    fields = _field_lines(text, keys)
    behaviors = [v for k, v in fields if k == "behavior" and v]
    reasons = [v for k, v in fields if k == "reason" and v]
    if behaviors:
        categories = {index.match(b) for b in behaviors}
        if len(categories) > 1:
            raise ParseError(f"conflicting behavior lines {behaviors}")
        return _checked(behaviors[0], reasons[0] if reasons else None, index)
    first, _, rest = text.partition("\n")
    category = index.by_alias.get(normalize(first))
    if category is None:
        raise ParseError("no 'Behavior:' line and the first line is not a category name")
    return _checked(first, reasons[0] if reasons else _SPACES.sub(" ", rest).strip() or None, index)


def _checked(behavior: str, reason: str | None, index: AliasIndex) -> LabelParse:
    category = index.match(behavior)
    if category is None:
        raise ParseError(f"'{behavior[:80]}' names no single category")
    if reason is None or not reason.strip():
        raise ParseError("no reason given")
    return LabelParse(category=category, reason=_SPACES.sub(" ", reason).strip())
