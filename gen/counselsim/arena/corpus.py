"""An arena corpus as what the ratings and the preference export read: dialogues, battles and their replies."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from counselsim.arena.ratings import Battle, Dialogue
from counselsim.corpus.shards import read_corpus

RECORD_TYPE = "arena_dialogue"


@dataclass
class ArenaCorpus:
    entrants: list[str]  # every entrant of any dialogue, sorted
    dialogues: list[Dialogue]
    battles: list[Battle]  # in corpus order (slot, then turn): the order online Elo reads
    unjudged: int  # counselor turns whose verdict was unparseable


def dialogue_rows(path: str) -> Iterator[dict[str, Any]]:
    for _, table in read_corpus(path, expected=RECORD_TYPE):
        yield from sorted(table.to_pylist(), key=lambda row: row["slot"])


def battles_of(row: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(counselor turn, its battle) of one dialogue row, in turn order."""
    for turn in row["turns"]:
        if turn["battle"] is not None:
            yield turn, turn["battle"]


def load_arena(path: str) -> ArenaCorpus:
    dialogues, battles, unjudged, names = [], [], 0, set()
    for row in dialogue_rows(path):
        pair = tuple(e["name"] for e in row["entrants"])
        names.update(pair)
        speakers = [t["speaker"] for t in row["turns"]]
        dialogues.append(Dialogue(pair, speakers.count("client"), speakers.count("counselor")))
        for turn, battle in battles_of(row):
            if battle["status"] != "ok":
                unjudged += 1
                continue
            battles.append(Battle(a=pair[0], b=pair[1], winner=battle["winner"], winner_position=battle["choice"],
                                  dialogue=row["session_id"], turn=turn["index"]))
    return ArenaCorpus(sorted(names), dialogues, battles, unjudged)
