"""Chat records, one dialogue each, in a JSON list or a JSONL file:

    {"messages": [{"role": "system"|"user"|"assistant", "content": ...}]}   OpenAI style, LLaMA-Factory "sharegpt"
                                                                          with role/content tags (the release's
                                                                          data/data.json)
    {"conversations": [{"from": "system"|"human"|"gpt", "value": ...}]}   ShareGPT

A leading system message (or a record's "system" text) is the counselor's prompt and is kept with the session's
source. Which chat role is the client is an option: by default the user (human) is the client and the assistant
(gpt) the counselor, as in SFT sets that train a counselor.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from counselsim.cards.importer import _complaint, _load_complaints
from counselsim.errors import InputError
from counselsim.importers.dialogue import check_turns, read_json
from counselsim.importers.records import Dialogue, ReadResult, RecordProblem
from counselsim.schemas.imported import SessionSource

FORMAT = "messages"
CLIENT_ROLES = ("user", "assistant")
# Per layout: the list key, its role and text keys, and the names of the user and assistant roles.
LAYOUTS = {
    "messages": ("role", "content", "user", "assistant"),
    "conversations": ("from", "value", "human", "gpt"),
}
SYSTEM = "system"


def _records(path: Path) -> tuple[list[Any], RecordProblem | None]:
    """The file's records: a JSON list, or one JSON value per non-empty line of a .jsonl file."""
    if path.suffix != ".jsonl":
        data, problem = read_json(path)
        if problem is None and not isinstance(data, list):
            problem = RecordProblem(path, None, "(file)", f"expected a JSON list of records, got {type(data).__name__}")
        return data, problem
    records: list[Any] = []
    for n, line in enumerate(path.read_bytes().split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            return [], RecordProblem(path, None, "(file)", f"line {n} is not UTF-8 text ({e.reason})")
        value, problem = read_json(path, text)
        if problem is not None:
            return [], RecordProblem(path, None, "(file)", f"line {n}: {problem.message}")
        records.append(value)
    return records, None


def _dialogue(record: Any, path: Path, index: int, client_role: str) -> tuple[Dialogue | None, list[RecordProblem]]:
    if not isinstance(record, dict):
        return None, [RecordProblem(path, index, "(record)", f"expected an object, got {type(record).__name__}")]
    layout = next((key for key in LAYOUTS if key in record), None)
    if layout is None:
        return None, [RecordProblem(path, index, "messages", "missing (expected 'messages' or 'conversations')")]
    role_key, text_key, user, assistant = LAYOUTS[layout]
    items = record[layout]
    system = record.get(SYSTEM)
    offset = 0
    if isinstance(items, list) and items and isinstance(items[0], dict) and items[0].get(role_key) == SYSTEM:
        system, offset = items[0].get(text_key), 1
    if system is not None and not isinstance(system, str):
        return None, [RecordProblem(path, index, SYSTEM, f"expected text, got {type(system).__name__}")]
    counselor = assistant if client_role == "user" else user
    speakers = {user if client_role == "user" else assistant: "client", counselor: "counselor"}
    turns, problems = check_turns(items[offset:] if offset else items, path, index, layout, role_key, text_key,
                                  speakers, offset)
    if problems:
        return None, problems
    source = SessionSource(format=FORMAT, file=path.name, index=index, counselor_prompt=system or None)
    return Dialogue(index, turns, source), []


def read(src: str | Path, complaints: str | Path | None = None, client_role: str = "user") -> ReadResult:
    """Every record of the file in order, as a Dialogue or a rejected record. `complaints`: a JSON list of chief
    complaints by record index."""
    if client_role not in CLIENT_ROLES:
        raise InputError(f"client role '{client_role}': choose one of {', '.join(CLIENT_ROLES)}")
    path = Path(src)
    if not path.is_file():
        raise InputError(f"{path}: not a JSON or JSONL file of chat records")
    entries = _load_complaints(Path(complaints)) if complaints is not None else None
    records, problem = _records(path)
    result = ReadResult(complaints=Path(complaints) if complaints is not None else None)
    if problem is not None:
        result.rejected.append([problem])
        return result
    for index, record in enumerate(records):
        dialogue, problems = _dialogue(record, path, index, client_role)
        if dialogue is not None and entries is not None:
            dialogue.complaint, why = _complaint(entries, Path(complaints), index)
            if why is not None:
                problems = [RecordProblem(path, index, "chief_complaint", why)]
        if problems:
            result.rejected.append(problems)
        else:
            result.dialogues.append(dialogue)
    return result
