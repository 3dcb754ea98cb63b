"""The dialogue termination function g: does a counselor reply close the session?

A reply closes when its final move is a farewell: a clause that says goodbye (an interjection such as 再见 or
"take care", standing for the whole clause) or wishes the client well (一切顺利, "good luck with…"), followed only
by closing moves: an invitation to return, thanks, wishes, belief, support. Encouragement followed by a question
or a next step ("加油，我们接着聊"), a quoted or reported goodbye, and advice such as "next time he says that…" do
not close. The phrases and cue lists are data (`data/termination.yaml`, documented there); this module is the
rule that reads them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from counselsim.resources import read_yaml

# A quoted span is someone's words, not the counselor's farewell: "他说“再见”就走了".
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|「[^」]*」|『[^』]*』|‘[^’]*’")
# Sentence ends; a period between digits (1.5) is not one.
_SENTENCE_END = re.compile(r"([。！？!?…~～\n]+|(?<!\d)\.+(?!\d))")
_CLAUSE_END = re.compile(r"[，,；;：:、]|\s[-–—]\s")
_NOISE = re.compile(r"[\s.!?。！？…~～'\"“”‘’()（）\[\]【】\U0001F300-\U0001FAFF\u2600-\u27BF]+")


@dataclass(frozen=True)
class _Rules:
    interjections: re.Pattern[str]
    wishes: re.Pattern[str]
    lead: re.Pattern[str]
    wish_lead: re.Pattern[str]
    trailer: re.Pattern[str]
    wish_object: re.Pattern[str]
    closing: re.Pattern[str]
    future: re.Pattern[str]
    continuation: re.Pattern[str]
    spec: dict


def _alternation(patterns: list[str], words: bool) -> str:
    body = "|".join(f"(?:{p})" for p in sorted(patterns, key=len, reverse=True))
    return rf"\b(?:{body})\b" if words else f"(?:{body})"


@cache
def _rules(language: str) -> _Rules:
    spec = read_yaml("termination.yaml")[language]
    words = language != "zh"  # Chinese has no word boundaries to anchor on

    def phrases(key: str) -> str:
        return _alternation([re.escape(p).replace(r"\ ", r"\s+") for p in spec[key]], words)

    def cues(key: str) -> re.Pattern[str]:
        return re.compile(_alternation(spec[key], words), re.I)

    farewell = f"(?:{phrases('interjections')}|{phrases('wishes')})"
    leads = _alternation(spec["leads"], words)
    return _Rules(
        interjections=re.compile(phrases("interjections"), re.I),
        wishes=re.compile(phrases("wishes"), re.I),
        # Leads and trailers are sequences of listed words (and other farewells: "Take care and see you").
        lead=re.compile(rf"(?:(?:{leads}|{farewell})\s*)*", re.I),
        wish_lead=re.compile(rf"(?:{leads}\s*)*{_alternation(spec['wish_leads'], words)}", re.I),
        trailer=re.compile(rf"(?:(?:{_alternation(spec['trailers'], words)}|{farewell})\s*)*", re.I),
        wish_object=re.compile(_alternation(spec["wish_objects"], words), re.I),
        closing=cues("closing"), future=cues("future"), continuation=cues("continuation"), spec=spec,
    )


@dataclass(frozen=True)
class _Sentence:
    body: str
    question: bool


def _sentences(reply: str) -> list[_Sentence]:
    text = _QUOTED.sub("«»", reply.replace("\\n", "\n"))
    parts = _SENTENCE_END.split(text)
    out = []
    for body, end in zip(parts[0::2], [*parts[1::2], ""]):
        if _NOISE.sub("", body):
            out.append(_Sentence(body.strip(), "?" in end or "？" in end or body.rstrip().endswith("吗")))
    return out


def _farewell_kind(clause: str, rules: _Rules) -> str | None:
    """'interjection' or 'wish' when the clause is a farewell, else None."""
    for kind, pattern in (("interjection", rules.interjections), ("wish", rules.wishes)):
        for match in pattern.finditer(clause):
            lead = _NOISE.sub(" ", clause[:match.start()]).strip()
            trail = _NOISE.sub(" ", clause[match.end():]).strip()
            if not (rules.lead.fullmatch(lead) or rules.wish_lead.match(lead)):
                continue
            if kind == "interjection" and not rules.trailer.fullmatch(trail):
                continue
            if kind == "wish" and trail and not (rules.wish_object.match(trail)
                                                 and not rules.continuation.search(trail)):
                continue
            return kind
    return None


def _closing_move(text: str, rules: _Rules, finishes_wish: bool = False) -> bool:
    """Text after a farewell that still closes: an invitation to return, or thanks/wishes/support and no next step."""
    if rules.future.search(text):
        return True
    if rules.continuation.search(text):
        return False
    return bool(rules.closing.search(text)) or finishes_wish


def ends_with_question(reply: str) -> bool:
    sentences = _sentences(reply)
    return bool(sentences) and sentences[-1].question


def is_closing(reply: str, language: str) -> bool:
    rules = _rules(language)
    sentences = _sentences(reply)
    for i in range(len(sentences) - 1, -1, -1):
        clauses = [c.strip() for c in _CLAUSE_END.split(sentences[i].body)]
        for j in range(len(clauses) - 1, -1, -1):
            kind = _farewell_kind(clauses[j], rules)
            if kind is None:
                continue
            if any(s.question for s in sentences[i:]):
                return False
            rest = "，".join(c for c in clauses[j + 1:] if _NOISE.sub("", c))
            return ((not rest or _closing_move(rest, rules, finishes_wish=kind == "wish"))
                    and all(_closing_move(s.body, rules) for s in sentences[i + 1:]))
    return False


def _listing(items: list[str]) -> str:
    return ", ".join(items)


def describe(language: str) -> str:
    """The rule in one paragraph, generated from the data file (the dataset card quotes it)."""
    spec = _rules(language).spec
    return (f"A counselor reply ends the session when its final move is a farewell: a clause that is a parting "
            f"word ({_listing(spec['interjections'])}) with at most a short lead or trailer, or a wish "
            f"({_listing(spec['wishes'])}), followed only by closing moves (an invitation to return, thanks, "
            f"wishes, belief or support), with no question and no next step after it; a quoted farewell does not "
            f"count. Otherwise the session runs to the turn cap.")
