"""The checks every import format shares, and the session record an imported dialogue becomes.

A dialogue opens with a client turn and alternates client and counselor; every turn holds text. Texts are kept
exactly as the source has them (quirks included); only the roles are mapped.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from counselsim import __version__
from counselsim.cards.importer import _CJK
from counselsim.importers.records import Dialogue, RecordProblem
from counselsim.schemas import Session, Turn
from counselsim.schemas.imported import PartialRoleCard
from counselsim.schemas.session import Speaker


def check_turns(items: Any, file: Path, record: int, list_field: str, role_key: str, text_key: str,
                speakers: Mapping[str, Speaker],
                offset: int = 0) -> tuple[list[tuple[Speaker, str]], list[RecordProblem]]:
    """The (speaker, text) turns of `items` (a record's message list, or its part from position `offset` on), or
    every problem found in it. `speakers` maps the source's role names to ours; a role outside it is wrong.
    Problems name the field as `<list_field>[i].<key>`; a bare list (list_field "") as `[i].<key>`."""
    problems: list[RecordProblem] = []

    def problem(where: str, message: str) -> None:
        problems.append(RecordProblem(file, record, where, message))

    if not isinstance(items, list):
        problem(list_field or "(record)", f"expected a list of messages, got {type(items).__name__}")
        return [], problems
    if not items:
        problem(list_field or "(record)", "no messages")
    turns: list[tuple[Speaker, str]] = []
    for i, item in enumerate(items, offset):
        where = f"{list_field}[{i}]"
        if not isinstance(item, dict):
            problem(where, f"expected an object with '{role_key}' and '{text_key}', got {type(item).__name__}")
            continue
        missing = [k for k in (role_key, text_key) if k not in item]
        if missing:
            problem(f"{where}.{missing[0]}", "missing")
            continue
        role, text = item[role_key], item[text_key]
        if role not in speakers:
            problem(f"{where}.{role_key}", f"role {role!r} is not one of {', '.join(map(repr, speakers))}")
            continue
        if not isinstance(text, str):
            problem(f"{where}.{text_key}", f"expected text, got {type(text).__name__}")
            continue
        if not text.strip():
            problem(f"{where}.{text_key}", "empty turn")
            continue
        speaker = speakers[role]
        if i == offset and speaker != "client":
            problem(f"{where}.{role_key}", f"the dialogue must open with the client, not {role!r}")
        elif turns and speaker == turns[-1][0]:
            problem(f"{where}.{role_key}", f"not alternating: a second {speaker} turn in a row")
        turns.append((speaker, text))
    return turns, problems


def read_json(file: Path, text: str | None = None) -> tuple[Any, RecordProblem | None]:
    """The JSON value of `file` (or of `text`, one JSONL line of it), or the problem that stops it being read."""
    if text is None:
        raw = file.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            return None, RecordProblem(file, None, "(file)", f"not UTF-8 text ({e.reason} at byte {e.start}, "
                                                              f"line {line}); save the file as UTF-8")
    try:
        return json.loads(text), None
    except json.JSONDecodeError as e:
        return None, RecordProblem(file, None, "(file)", f"invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})")


def language_of(texts: list[str]) -> str:
    """zh when any text holds a CJK character, else en (the two languages a session may have)."""
    return "zh" if any(_CJK.search(t) for t in texts) else "en"


def to_session(dialogue: Dialogue, id_prefix: str, slot: int, run_id: str, config_hash: str) -> Session:
    """The session record of an imported dialogue: its turns, a partial role card holding the chief complaint (if
    any), its source, and null generation fields. Token counts and latencies are 0 and no generation was
    rejected: nothing was generated here; each turn's finish_reason is "imported"."""
    texts = [text for _, text in dialogue.turns]
    language = language_of(texts + ([dialogue.complaint] if dialogue.complaint else []))
    ident = f"{id_prefix}-{dialogue.number}"
    card = PartialRoleCard(id=ident, language=language, chief_complaint=dialogue.complaint,
                           source=f"{dialogue.source.format}:{dialogue.source.file}")
    turns = [Turn(index=i, speaker=speaker, text=text, attempts=1, prompt_tokens=0, completion_tokens=0,
                  latency_s=0.0, finish_reason="imported") for i, (speaker, text) in enumerate(dialogue.turns)]
    return Session(
        session_id=ident, run_id=run_id, slot=slot, role_card_id=ident, language=language, role_card=card,
        client=None, counselor=None, seed=None, turns=turns, termination_reason=None,
        num_turn_pairs=sum(speaker == "counselor" for speaker, _ in dialogue.turns), regenerations=0, rejections=[],
        prompt_tokens=0, completion_tokens=0, started_at=None, finished_at=None, duration_s=None,
        config_hash=config_hash, package_version=__version__, origin="imported", source=dialogue.source,
    )
