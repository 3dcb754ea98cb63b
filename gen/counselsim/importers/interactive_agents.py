"""The Interactive Agents release's dialogues: a folder of `<N>.json` files (or a folder holding `dialogues/`), each
a JSON list of `{"role": "client"|"counselor", "content"}`, client first. An optional JSON list of chief complaints
by N (`--complaints`, else `chief_complaints.json` beside the dialogues) gives each client the complaint that was
its profile in the release."""
from __future__ import annotations

import re
from pathlib import Path

from counselsim.cards.importer import _complaint, _load_complaints
from counselsim.errors import InputError
from counselsim.importers.dialogue import check_turns, read_json
from counselsim.importers.records import Dialogue, ReadResult, RecordProblem
from counselsim.schemas.imported import SessionSource

FORMAT = "interactive-agents"
COMPLAINTS_FILE = "chief_complaints.json"
SPEAKERS = {"client": "client", "counselor": "counselor"}
_NUMBERED = re.compile(r"^(0|[1-9][0-9]*)\.json$")


def dialogue_folder(src: Path) -> Path:
    if not src.is_dir():
        raise InputError(f"{src}: not a folder of Interactive Agents dialogues (<N>.json)")
    return src / "dialogues" if (src / "dialogues").is_dir() else src


def read(src: str | Path, complaints: str | Path | None = None) -> ReadResult:
    """Every dialogue of the folder in N order, as a Dialogue or a rejected record."""
    folder = dialogue_folder(Path(src))
    complaints_path = Path(complaints) if complaints is not None else folder / COMPLAINTS_FILE
    entries = _load_complaints(complaints_path) if complaints is not None or complaints_path.exists() else None
    files = sorted(folder.glob("*.json"))
    numbered = sorted((int(m.group(1)), f) for f in files if (m := _NUMBERED.match(f.name)))
    if not numbered:
        raise InputError(f"{folder}: no dialogue files named <N>.json")
    result = ReadResult(complaints=complaints_path if entries is not None else None)
    for number, path in numbered:
        rel = path.relative_to(folder).as_posix()
        messages, problem = read_json(path)
        if problem is not None:
            result.rejected.append([problem])
            continue
        turns, problems = check_turns(messages, path, number, "", "role", "content", SPEAKERS)
        complaint = None
        if entries is not None:
            complaint, why = _complaint(entries, complaints_path, number)
            if why is not None:
                problems.append(RecordProblem(path, number, "chief_complaint", why))
        if problems:
            result.rejected.append(problems)
        else:
            result.dialogues.append(Dialogue(number, turns, SessionSource(format=FORMAT, file=rel, index=number),
                                             complaint))
    for path in files:
        if not _NUMBERED.match(path.name) and path.resolve() != complaints_path.resolve():
            result.rejected.append([RecordProblem(path, None, "(file)", "a dialogue file is named by its number, "
                                                                      "such as 0.json")])
    return result
