"""WAI-O-S judging as a job: one work item per (session, item, round), one staged `JudgeCall` record per judge
call. Run through the runner, so at most `stages.wai.concurrency` calls are in flight (prompts are built per call,
never all at once), every finished call is staged, and a rerun after a kill judges only the calls not yet made."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from counselsim.audit import wai
from counselsim.audit.frames import CorpusFrames
from counselsim.config import PipelineConfig
from counselsim.engines.base import ContextOverflowError, EngineError
from counselsim.engines.roles import Caller, RoleCaller, Unparseable
from counselsim.identity import Identity
from counselsim.runtime.job import WorkItem
from counselsim.runtime.runner import run_items
from counselsim.runtime.staging import Staging

ROWS_PER_PART = 1024


class JudgeCall(BaseModel):
    """One judge call as staged: its output (None if the call failed), the score parsed from it (None if
    unparseable or failed), and the engine error of a failed call."""

    model_config = ConfigDict(extra="forbid")
    key: str
    session_id: str
    item: int
    round: int
    output: str | None
    raw: int | None
    error: str | None


JUDGE_CALL_SCHEMA = pa.schema([("key", pa.string()), ("session_id", pa.string()), ("item", pa.int32()),
                               ("round", pa.int32()), ("output", pa.string()), ("raw", pa.int32()),
                               ("error", pa.string())])


class WaiJob:
    record_type = "wai_call"
    key_column = "key"
    order_column = "key"
    schema = JUDGE_CALL_SCHEMA
    model = JudgeCall
    target = None  # one call per (session, item, round)

    def __init__(self, frames: CorpusFrames, cfg: PipelineConfig) -> None:
        self.frames = frames
        self.cfg = cfg
        self.settings = cfg.stages.wai
        self.items = wai.load_items()
        self.todo: list[tuple[str, str, str]] = []
        self.corpus_digest = ""
        self.pool: Caller | None = None
        self.guided = False  # known once bound: guided choice, or strict parsing

    def validate(self) -> None:
        """Render every conversation (a session in a language without prompts is an InputError)."""
        everything = wai.conversations(self.frames, None)
        digest = hashlib.sha256()
        for session_id, language, conversation in everything:
            digest.update(f"{session_id}\0{language}\0{conversation}\0".encode())
        self.corpus_digest = "sha256:" + digest.hexdigest()
        limit = self.settings.max_sessions
        self.todo = everything if limit is None else everything[:limit]

    def identity(self) -> Identity:
        """The config's resume identity and the judged corpus by content (every conversation, whatever
        max_sessions says, so judging more sessions later extends the same staging)."""
        return Identity({**self.cfg.resume_identity().fields, "input.conversations": self.corpus_digest})

    def bind(self, pool: Caller, run_id: str) -> None:
        self.pool = pool
        self.guided = pool.supports_structured_output(wai.ROLE)

    def plan(self) -> Iterator[WorkItem]:
        slot = 0
        for session_id, _, conversation in self.todo:
            for item in self.items:
                for round_ in range(self.settings.rounds):
                    yield WorkItem(key=f"{session_id}|{item.id}|{round_}", slot=slot,
                                   payload=(session_id, conversation, item, round_))
                    slot += 1

    async def process(self, work: WorkItem) -> JudgeCall:
        assert self.pool is not None, "bind() gives the job its engines"
        session_id, conversation, item, round_ = work.payload
        calls = RoleCaller(self.pool, self.cfg.roles, session_id, self.cfg.run.seed)
        # The prompt is built here, not up front: a corpus x 12 items x rounds of full conversations would not fit
        # in memory.
        messages = [{"role": "user", "content": wai.judge_prompt(conversation, item)}]
        call = {"key": work.key, "session_id": session_id, "item": item.id, "round": round_}
        try:
            # One attempt per round: an unparseable answer is recorded and left out, never retried into a score.
            judged = await calls.parsed(wai.ROLE, messages, wai.parse_strict, "wai", session_id, item.id, round_,
                                        attempts=1, choices=wai.CHOICES)
        except Unparseable as e:
            return JudgeCall(**call, output=e.text, raw=None, error=None)
        except (EngineError, ContextOverflowError) as e:  # recorded per call; the audit goes on
            return JudgeCall(**call, output=None, raw=None, error=f"{type(e).__name__}: {e}")
        return JudgeCall(**call, output=judged.raw, raw=judged.value, error=None)

    def counters(self, record: JudgeCall) -> dict[str, int]:
        return {}

    def summary(self, part_paths: Sequence[Path]) -> None:
        return None

    def result(self, staging: Staging) -> wai.WaiResult:
        """The scores of the staged calls of the sessions judged now, in plan order."""
        order = {(sid, item.id, r): k for k, (sid, item, r) in enumerate(
            (sid, item, r) for sid, _, _ in self.todo for item in self.items for r in range(self.settings.rounds))}
        staged = [c for c in staging.records() if (c.session_id, c.item, c.round) in order]
        staged.sort(key=lambda c: order[c.session_id, c.item, c.round])
        calls = [wai.Call(c.session_id, c.item, c.round, c.output, c.raw, c.error) for c in staged]
        return wai.summarize(self.frames, self.cfg, [(sid, language) for sid, language, _ in self.todo], calls,
                             self.guided)


def open_staging(job: WaiJob, folder: Path, output: str) -> tuple[Staging, str]:
    """The judge's staging in `folder` and its run id; a staging of another config or corpus is refused."""
    from counselsim.runtime.driver import open_run

    staging = Staging.for_job(folder, job, ROWS_PER_PART)
    return staging, open_run(staging, job.identity(), output, job.cfg.pipeline)


async def score_corpus(frames: CorpusFrames, cfg: PipelineConfig, pool: Caller, folder: Path) -> wai.WaiResult:
    """Judge the sessions of a corpus with the `judge` role of `pool` (started), staging every call in `folder`;
    calls staged there by an earlier, interrupted scoring are not made again."""
    job = WaiJob(frames, cfg)
    job.validate()
    staging, run_id = open_staging(job, folder, str(folder))
    job.bind(pool, run_id)
    await run_items(job, staging, cfg.stages.wai.concurrency, 1.0, show_progress=False)
    return job.result(staging)
