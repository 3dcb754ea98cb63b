"""The feedback section of an audit: how the counselors of a corpus handle client resistance, as a judge rated
their replies (a `feedback` corpus, counselsim.feedback). Levels are counted per mechanism, by resistance group
and by counselor model (so an arena or rpc corpus can be compared across counselors), with examples of strong and
absent handling. Unparseable judgements are counted, and left out of the distributions."""
from __future__ import annotations

import polars as pl

from counselsim.audit.document import Block, Section, Table, Text
from counselsim.corpus.shards import read_corpus
from counselsim.schemas.feedback import LEVELS, MECHANISMS

LEVEL_NAMES = {0: "none", 1: "weak", 2: "strong"}
EXAMPLES = 3


def load_feedback(path: str) -> pl.DataFrame:
    """The records of a feedback corpus (InputError naming a shard of another record type)."""
    return pl.concat([pl.from_arrow(table) for _, table in read_corpus(path, expected="feedback")])


def _judged(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("judge_status") == "ok")


def level_distribution(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Per `by` group and mechanism: judged replies, the share at each level and the mean level."""
    long = _judged(frame).unpivot(on=list(MECHANISMS), index=by, variable_name="mechanism", value_name="level")
    keys = [*by, "mechanism"]
    return (long.group_by(keys)
            .agg(n=pl.len(), **{LEVEL_NAMES[v]: (pl.col("level") == v).mean() for v in LEVELS},
                 mean=pl.col("level").cast(pl.Float64).mean())
            .with_columns(pl.col("mechanism").cast(pl.Enum(list(MECHANISMS))))
            .sort(keys))


def status_counts(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.group_by("judge_status").agg(n=pl.len()).sort("judge_status")


def examples(frame: pl.DataFrame, strongest: bool, n: int = EXAMPLES) -> pl.DataFrame:
    """The judged replies with the highest (or lowest) sum of levels, ties by item_id."""
    total = pl.sum_horizontal(*MECHANISMS)
    ranked = _judged(frame).with_columns(total=total).sort(["total", "item_id"], descending=[strongest, False])
    return ranked.head(n).select("item_id", "resistance_label", "client_text", "reply_text", *MECHANISMS,
                                 "explanation")


def feedback_section(frame: pl.DataFrame) -> Section:
    judged = _judged(frame)
    blocks: list[Block] = [
        Text(f"{frame.height} counselor replies that follow a resistant client turn were rated by "
             f"{', '.join(sorted(frame['judge'].unique().to_list()))} on four communication mechanisms (Li et al. "
             "2026) at three levels: 0 none, 1 weak, 2 strong. The judge is a prompted model, not the paper's "
             "fine-tuned one, and the mechanism definitions in its prompt are working definitions, not the "
             f"paper's; read the levels as that judge's view. {frame.height - judged.height} judgements were "
             "unparseable and are left out of the distributions. Columns none/weak/strong are shares of the "
             "judged replies; mean is the mean level."),
        Table(status_counts(frame), "Judgements"),
        Table(level_distribution(frame, []), "Level of each mechanism"),
        Table(level_distribution(frame.with_columns(pl.col("resistance_group").fill_null("unknown")),
                                 ["resistance_group"]), "By the client's resistance group (PsyFIRE)"),
        Table(level_distribution(frame, ["counselor_model"]), "By counselor model"),
    ]
    if judged.height:
        blocks += [Table(examples(frame, strongest=True), "Strong handling: the highest-rated replies"),
                   Table(examples(frame, strongest=False), "Absent handling: the lowest-rated replies")]
    return Section("Counselor responses to resistance (feedback judge)", blocks)
