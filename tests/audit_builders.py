"""Tiny hand-built corpora for the audit, export and dataset-card tests."""
from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa

from counselsim.corpus.shards import CorpusWriter, write_manifest
from counselsim.schemas import BigFive, Level, Resistance, RoleCard, RoleModel, Session, Turn, TraitAssessment
from counselsim.schemas.arrow import RPC_SESSION_SCHEMA, RPC_TURN, TURN, sessions_to_table

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def card(card_id: str, language: str = "en", complaint: str = "I cannot sleep since my exam failed.",
         gender: str = "female") -> RoleCard:
    trait = TraitAssessment(level=Level.moderate)
    return RoleCard(
        id=card_id, language=language, gender=gender, age=20, education="college", occupation="student",
        marital_status="single", family_relationships="close to her mother",
        big_five=BigFive(openness=trait, conscientiousness=trait, extraversion=trait, agreeableness=trait,
                         neuroticism=trait),
        resistance=Resistance(level=Level.low, reasoning="willing"), chief_complaint=complaint,
    )


def session(session_id: str, turns: list[tuple], role_card: RoleCard | None = None, language: str = "en",
            termination: str = "farewell") -> Session:
    """`turns` holds (speaker, text) or (speaker, text, attempts)."""
    role_card = role_card or card(f"card-{session_id}", language)
    model = RoleModel(model="m", backend="scripted", temperature=0.8, top_p=0.9, max_tokens=128,
                      repetition_penalty=1.0)
    built = [Turn(index=i, speaker=t[0], text=t[1], attempts=t[2] if len(t) > 2 else 1, prompt_tokens=0,
                  completion_tokens=0, latency_s=0.0, finish_reason="stop") for i, t in enumerate(turns)]
    return Session(
        session_id=session_id, run_id="run", slot=0, role_card_id=role_card.id, language=language,
        role_card=role_card, client=model, counselor=model, seed=0, turns=built, termination_reason=termination,
        num_turn_pairs=len(built) // 2, regenerations=sum(t.attempts - 1 for t in built), rejections=[], prompt_tokens=0,
        completion_tokens=0, started_at=T0, finished_at=T0, duration_s=0.0, config_hash="h",
        package_version="0.1.0",
    )


def write_corpus(out: str, sessions: list[Session] | pa.Table, manifest: dict | None = None,
                 rows_per_shard: int = 2) -> list:
    """Shards of `sessions` (Session records, or a table of another record type) and, if given, a manifest."""
    table = sessions if isinstance(sessions, pa.Table) else sessions_to_table(sessions)
    writer = CorpusWriter(out, table.schema, rows_per_shard)
    writer.add(table)
    shards = writer.close()
    if manifest is not None:
        write_manifest(out, {**manifest, "shards": shards})
    return shards


# The labeled (rpc_session) record, filled from plain sessions: label fields as given, everything else neutral.
LABEL_FIELDS = [f.name for f in RPC_TURN if f.name not in {t.name for t in TURN}]
PROFILE = {"presenting": "p", "predisposing": "p", "precipitating": "p", "perpetuating": "p", "protective": "p"}


def labeled_schema() -> pa.Schema:
    return RPC_SESSION_SCHEMA


def labeled_table(sessions: list[Session], labels: dict[tuple[str, int], dict], episodes: dict[str, dict]) -> pa.Table:
    """`labels[(session_id, turn index)]` sets label fields of a turn; `episodes[session_id]` its episode."""
    rows = sessions_to_table(sessions).to_pylist()
    for row in rows:
        for turn in row["turns"]:
            turn.update({name: None for name in LABEL_FIELDS}, injected=False, regenerated=False)
            turn.update(labels.get((row["session_id"], turn["index"]), {}))
        episode = episodes.get(row["session_id"])
        if episode is not None:  # the planner's fields, for tests about the turns
            episode = {"planner_reason": "p", "continuation": "rejoined",
                       "counselor_regenerated": sum(1 for t in row["turns"] if t.get("regenerated")),
                       "client_regenerated": 0, **episode}
        row.update(episode=episode, episode_decision="injected" if episode else "declined", profile_5p=PROFILE,
                   source_session_id=row["session_id"], rpc_run_id="rpc", rpc_config_hash="h", rpc_prompt_tokens=0,
                   rpc_completion_tokens=0)
    return pa.Table.from_pylist(rows, schema=RPC_SESSION_SCHEMA)
