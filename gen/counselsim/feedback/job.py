"""The feedback job: a session or rpc corpus in, one `feedback` record per counselor reply that follows a resistant
client turn out (Li et al. 2026: four communication mechanisms at three levels, with an explanation).

Work items are (session, counselor turn), keyed by item_id, so a rerun resumes where it stopped. With corpus
labels (an rpc corpus) only replies after resistance are planned; without (a plain session corpus, imported real
ones included) every reply after a client turn is planned, its client turn is labeled first (the rpc labeler,
RECAP-style), and a reply after collaboration is dropped as `client_not_resistant` (counted, never judged).
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from counselsim.config import PipelineConfig
from counselsim.corpus.records import read_sessions
from counselsim.engines.meter import StageMeter
from counselsim.engines.roles import Caller, RoleCaller
from counselsim.errors import InputError
from counselsim.feedback import agreement as agreement_metrics
from counselsim.feedback.judge import ROLE as JUDGE
from counselsim.feedback.judge import STAGE, Judge
from counselsim.feedback.prompts import check_prompts
from counselsim.feedback.selection import SelectionCounts, select
from counselsim.feedback.settings import FeedbackSettings
from counselsim.rpc import render as rpc_render
from counselsim.rpc.labeler import BINARY, FINE, Labeler
from counselsim.rpc.labeler import ROLE as LABELER
from counselsim.rpc.taxonomy import Taxonomy, load_taxonomy
from counselsim.runtime.job import Dropped, WorkItem
from counselsim.schemas.feedback import (
    FEEDBACK_SCHEMA,
    MECHANISMS,
    FeedbackRecord,
    item_id,
)
from counselsim.schemas.session import Session
from counselsim.seeds import derive_seed

INPUT_TYPES = ("session", "rpc_session")  # any session corpus, generated or imported, or an rpc corpus

log = logging.getLogger(__name__)

STAGE_UNITS = {STAGE: "judged counselor reply", BINARY: "client turn labeled", FINE: "resistant client turn labeled"}
NOT_RESISTANT, LABEL_UNPARSEABLE = "client_not_resistant", "client_label_unparseable"


def judge_name(cfg: PipelineConfig) -> str:
    model = cfg.models[cfg.roles[JUDGE].model]
    return f"{model.path} ({model.backend} backend)"


def counselor_model(session: Session) -> str:
    if session.counselor is not None:
        return session.counselor.model
    return f"imported ({session.source.format})" if session.source is not None else "unknown"


class FeedbackJob:
    record_type = "feedback"
    key_column = "item_id"
    order_column = "item_id"  # "<session_id>#<turn, 5 digits>": sessions in id order, replies in turn order
    schema = FEEDBACK_SCHEMA
    model = FeedbackRecord
    target = None  # one attempt per planned item

    def __init__(self, cfg: PipelineConfig, settings: FeedbackSettings, taxonomy: Taxonomy) -> None:
        assert cfg.run.input is not None
        self.cfg = cfg
        self.settings = settings
        self.taxonomy = taxonomy
        self.judge = Judge(settings)
        self.labeler = Labeler(taxonomy, settings.labeler)
        self.judge_name = judge_name(cfg)
        self.config_hash = cfg.generation_hash()
        self.meter = StageMeter()
        self.pool: Caller | None = None
        self.run_id = ""
        self.corpus_labels: bool | None = None  # decided by validate() from the input's record type
        self.selection = SelectionCounts()
        self.experts: dict[str, dict[str, int]] | None = None

    # --- before engines ----------------------------------------------------------------------------------------
    def validate(self) -> None:
        """The input (every record, ids unique, one record type), the label source, roles and prompts it needs,
        the expert ratings file."""
        seen: dict[str, str] = {}
        kind, languages = None, set()
        selection = SelectionCounts()
        for kind, shard, i, session in read_sessions(self.cfg.run.input, INPUT_TYPES):
            if session.session_id in seen:
                raise InputError(f"{shard}: record {i}: field 'session_id': '{session.session_id}' also occurs in "
                                 f"{seen[session.session_id]}")
            seen[session.session_id] = shard
            languages.add(session.language)
            if self.corpus_labels is None:
                self.corpus_labels = self._uses_corpus_labels(kind)
            selection.add(select(self._rows(session), self.corpus_labels).counts)
        if not seen:
            raise InputError(f"{self.cfg.run.input}: the input corpus holds no sessions")
        self.selection = selection
        langs = sorted(languages)
        try:
            check_prompts(langs)
            if not self.corpus_labels:
                rpc_render.check_prompts(langs)
        except (FileNotFoundError, KeyError) as e:
            raise InputError(f"{self.cfg.run.input}: no feedback prompts for the corpus languages {langs} ({e})") from None
        if self.settings.expert_ratings:
            self.experts = agreement_metrics.load_expert_ratings(self.settings.expert_ratings)

    def _uses_corpus_labels(self, kind: str) -> bool:
        mode = self.settings.labels
        if mode == "corpus" and kind != "rpc_session":
            raise InputError(f"{self.cfg.run.input}: stages.feedback.labels is 'corpus' but the input holds '{kind}' "
                             "records, which have no resistance labels; use 'auto' or 'labeler'")
        use_corpus = mode == "corpus" or (mode == "auto" and kind == "rpc_session")
        if not use_corpus and LABELER not in self.cfg.roles:
            raise InputError(f"{self.cfg.run.input}: the input has no resistance labels ('{kind}' records), so the "
                             "client turns must be labeled: add a 'labeler' role to the config")
        return use_corpus

    @staticmethod
    def _rows(session: Session) -> list[dict[str, Any]]:
        return [t.model_dump() for t in session.turns]

    def bind(self, pool: Caller, run_id: str) -> None:
        self.pool = pool
        self.run_id = run_id

    # --- the work ----------------------------------------------------------------------------------------------
    def plan(self) -> Iterator[WorkItem]:
        assert self.corpus_labels is not None, "validate() decides the label source"
        for _, _, _, session in read_sessions(self.cfg.run.input, INPUT_TYPES):
            rows = self._rows(session)
            for candidate in select(rows, self.corpus_labels).candidates:
                yield WorkItem(key=item_id(session.session_id, candidate.turn), slot=session.slot,
                               payload=(session, rows, candidate))

    async def process(self, item: WorkItem) -> FeedbackRecord:
        assert self.pool is not None, "bind() gives the job its engines"
        session, rows, candidate = item.payload
        # All calls of a session go to one replica (its transcript is a shared prefix); seeds derive per item.
        caller = RoleCaller(self.pool, self.cfg.roles, session.session_id,
                            derive_seed(self.cfg.run.seed, "feedback", item.key), self.meter)
        client, lang = candidate.turn - 1, session.language
        label, source = candidate.label, "corpus"
        if candidate.needs_label:
            source = "labeler"
            turn_label = await self.labeler.label_turn(caller, lang, rows, client)
            if turn_label.label_binary is None:
                raise Dropped(LABEL_UNPARSEABLE, f"turn {client}")
            if turn_label.label_binary != "resistance":
                raise Dropped(NOT_RESISTANT, f"turn {client}")
            label = turn_label.label
        display = self.taxonomy.display(label, lang) if label else None
        rating = await self.judge.rate(caller, lang, rows, candidate.turn, display)
        return FeedbackRecord(
            item_id=item.key, session_id=session.session_id, slot=session.slot, language=lang,
            turn=candidate.turn, client_text=rows[client]["text"], reply_text=rows[candidate.turn]["text"],
            counselor_model=counselor_model(session), resistance_label=label,
            resistance_group=label.split(".")[0] if label else None, label_source=source,
            **(rating.levels or dict.fromkeys(MECHANISMS)), explanation=rating.explanation,
            judge_status=rating.status, judge_output=rating.raw, judge=self.judge_name,
            judge_attempts=rating.attempts, prompt_tokens=caller.prompt_tokens,
            completion_tokens=caller.completion_tokens, feedback_run_id=self.run_id,
            feedback_config_hash=self.config_hash)

    def counters(self, record: FeedbackRecord) -> dict[str, int]:
        return {"completion_tokens": record.completion_tokens, "unparseable": record.judge_status == "unparseable"}

    def worker_state(self) -> dict[str, Any]:
        """The stage meters gathered by `process` since the last call (WorkerState)."""
        return {"meter": self.meter.drain()}

    def merge_worker_state(self, state: dict[str, Any]) -> None:
        self.meter.merge(state["meter"])

    def summary(self, part_paths: Sequence[str | Path]) -> dict[str, Any]:
        """For the run manifest: what selection found in the input, how many judgements parsed, the agreement with
        the expert ratings when given, and the throughput of each stage in this run, on every worker."""
        columns = ["item_id", "judge_status", *MECHANISMS]
        rows = [r for part in part_paths for r in pq.read_table(part, columns=columns).to_pylist()]
        out: dict[str, Any] = {
            "selection": {"label_source": "corpus" if self.corpus_labels else "labeler", **self.selection.fields()},
            "judged": len(rows),
            "unparseable": sum(r["judge_status"] == "unparseable" for r in rows),
        }
        if self.experts is not None:
            out["agreement"] = agreement_metrics.agreement(
                ((r["item_id"], {m: r[m] for m in MECHANISMS}) for r in rows), self.experts)
        return {"feedback": out, "stage_throughput": self.meter.summary(STAGE_UNITS)}


def build_job(cfg: PipelineConfig) -> FeedbackJob:
    """The feedback job, without engines (the config was validated when it loaded); its input in validate()."""
    return FeedbackJob(cfg, cfg.stages.feedback, load_taxonomy())
