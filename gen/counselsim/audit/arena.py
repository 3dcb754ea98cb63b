"""The arena section of an audit (SimPsyDial §5.3, Figures 6 and 14, Table 4): ratings of the counselor entrants
with bootstrap intervals, the battle-count and pairwise win matrices, the dialogue statistics and upvotes, the
supervisor's position bias and, given a file of human choices, its agreement with them. Every number is in a
table, so metrics.json holds it too."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from counselsim.arena import human, ratings
from counselsim.arena.corpus import ArenaCorpus, load_arena
from counselsim.arena.ratings import Battle
from counselsim.audit import plots
from counselsim.audit.document import Block, Figure, Section, Table, Text

# The paper's check of its supervisors against human choices on the same battles (§5.3).
PAPER_AGREEMENT = "60.8% / 61.8% for Qwen1.5-110B-Chat with Prompts 1 / 2, 64.4% for GPT-4o"


@dataclass
class ArenaAudit:
    corpus: ArenaCorpus
    agreement: human.Agreement | None = None
    human_choices: str | None = None  # the file the agreement was measured on


def load_arena_audit(path: str, human_choices: str | None = None) -> ArenaAudit:
    """The arena corpus at `path`; InputError when the human-choice file does not match its battles."""
    corpus = load_arena(path)
    if human_choices is None:
        return ArenaAudit(corpus)
    choices = human.read_choices(human_choices, corpus.battles)
    return ArenaAudit(corpus, human.agreement(corpus.battles, choices), human_choices)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def rating_table(battles: Sequence[Battle], entrants: Sequence[str], seed: int,
                 rounds: int = ratings.BOOTSTRAP_ROUNDS) -> pl.DataFrame:
    """One row per entrant, best Bradley-Terry rating first, each rating with its bootstrap interval."""
    bt, online = ratings.bradley_terry(battles, entrants), ratings.elo(battles, entrants)
    bt_ci = ratings.bootstrap(battles, ratings.bradley_terry, rounds, seed)
    elo_ci = ratings.bootstrap(battles, ratings.elo, rounds, seed)
    rows = []
    for name in sorted(entrants, key=lambda n: -bt[n]):
        fought = sum(name in (b.a, b.b) for b in battles)
        won = sum(b.winner == name for b in battles)
        rows.append({"entrant": name, "bradley_terry": bt[name],
                     "bt_low": bt_ci[name].low if name in bt_ci else None,
                     "bt_high": bt_ci[name].high if name in bt_ci else None,
                     "elo": online[name],
                     "elo_low": elo_ci[name].low if name in elo_ci else None,
                     "elo_high": elo_ci[name].high if name in elo_ci else None,
                     "battles": fought, "wins": won, "win_share": _share(won, fought)})
    return pl.DataFrame(rows).with_row_index("rank", offset=1)


def matrix_frame(matrix: np.ndarray, entrants: Sequence[str]) -> pl.DataFrame:
    """Rows and columns in `entrants` order; NaN (never met) as null."""
    return pl.DataFrame({"entrant": list(entrants), **{
        name: [None if np.isnan(v) else float(v) for v in matrix[:, j]] for j, name in enumerate(entrants)}})


def table4_frames(corpus: ArenaCorpus) -> tuple[pl.DataFrame, pl.DataFrame]:
    t4 = ratings.table4(corpus.dialogues, corpus.battles, corpus.entrants)
    stats = pl.DataFrame({
        "statistic": ["# Dialogues", "# Utterances", "# Client utterances", "# Counselor utterances",
                      "Avg. turns per dialogue", "# Battles (judged counselor turns)", "# Unjudged counselor turns"],
        "value": [float(v) for v in (t4.dialogues, t4.utterances, t4.client_utterances, t4.counselor_utterances,
                                     t4.turns_per_dialogue, len(corpus.battles), corpus.unjudged)],
    })
    upvotes = pl.DataFrame([{"entrant": u.entrant, "dialogues": u.occurrences, "total_upvotes": u.total,
                             "average_upvotes": u.average} for u in t4.upvotes])
    return stats, upvotes


def position_frames(battles: Sequence[Battle], entrants: Sequence[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    bias = ratings.position_bias(battles)
    overall = pl.DataFrame({"battles": [bias.battles], "won_by_option_a": [bias.first_wins],
                            "option_a_share": [_share(bias.first_wins, bias.battles)],
                            "binomial_p": [None if not bias.battles else bias.p_value]})
    by_entrant = pl.DataFrame([{"entrant": p.entrant, "shown_as_a": p.shown_first,
                                "win_rate_as_a": _share(p.won_first, p.shown_first), "shown_as_b": p.shown_second,
                                "win_rate_as_b": _share(p.won_second, p.shown_second)}
                               for p in ratings.position_wins(battles, entrants)])
    return overall, by_entrant


def _method(corpus: ArenaCorpus, seed: int) -> Text:
    return Text(
        f"{len(corpus.dialogues)} dialogues between {len(corpus.entrants)} entrants ({', '.join(corpus.entrants)}). "
        "Each judged counselor turn is one battle, won by the entrant whose reply the supervisor chose; "
        f"{corpus.unjudged} turns whose verdict was unparseable are no battles. Bradley-Terry is the maximum "
        f"a posteriori fit (a Gaussian prior of sd {ratings.BT_PRIOR_SD:g} on the log-odds strengths keeps an "
        "unbeaten entrant finite), does not depend on battle order and is the ranking; it is shown on the Elo "
        f"scale, centred on {ratings.ELO_INITIAL:g}. Elo is the online rating the paper reports (Figure 6): "
        f"battles in corpus order (dialogue slot, then turn), K = {ratings.ELO_K:g}, initial "
        f"{ratings.ELO_INITIAL:g}, scale {ratings.ELO_SCALE:g}. Intervals are {ratings.INTERVAL:.0%} percentile "
        f"intervals over {ratings.BOOTSTRAP_ROUNDS} battle logs resampled with replacement (seed {seed}). The "
        "ratings are only as good as the supervisor: a small or toy judge ranks nothing but its own quirks.")


def _agreement_blocks(audit: ArenaAudit) -> list[Block]:
    if audit.agreement is None:
        return [Text("No human choices were given (`counselsim audit --human-choices FILE`), so the supervisor's "
                     f"agreement with people is not measured here; the paper reports {PAPER_AGREEMENT}.")]
    a = audit.agreement
    return [Text(f"Human choices from {audit.human_choices}; the paper reports {PAPER_AGREEMENT}."),
            Table(pl.DataFrame({"battles_with_human_choice": [a.battles], "agreed": [a.agreed],
                                "agreement": [a.share]}), "Supervisor agreement with human choices")]


def arena_section(audit: ArenaAudit, seed: int) -> Section:
    corpus = audit.corpus
    battles = corpus.battles
    stats, upvotes = table4_frames(corpus)
    blocks: list[Block] = [_method(corpus, seed)]
    if battles:
        table = rating_table(battles, corpus.entrants, seed)
        order = table["entrant"].to_list()  # matrices in rating order
        counts = ratings.battle_count_matrix(battles, order)
        shares = ratings.win_share_matrix(battles, order)
        overall, by_entrant = position_frames(battles, order)
        blocks += [
            Table(table, "Ratings with intervals"),
            Table(matrix_frame(shares, order), "Pairwise win share (row entrant against column entrant)"),
            Figure("arena_win_share", plots.heatmap(shares, order, "Pairwise win share", "share of battles won",
                                                    "{:.2f}", "RdBu_r", (0.0, 1.0)),
                   "Share of their battles the row entrant won against the column entrant"),
            Table(matrix_frame(counts, order), "Battle counts (Figure 14)"),
            Figure("arena_battles", plots.heatmap(counts, order, "Battle counts", "battles", "{:.0f}", "Blues"),
                   "Battles between each pair of entrants (Figure 14)"),
            Text("Position bias: the supervisor saw the two replies in a seeded random order. Without a bias "
                 "option A wins half the battles; binomial_p is the two-sided binomial test of that."),
            Table(overall, "Win rate by position"),
            Table(by_entrant, "Win rate by position, per entrant"),
        ]
    else:
        blocks.append(Text("No battle was judged, so there are no ratings."))
    blocks += [Table(stats, "Dialogue statistics (Table 4)"),
               Table(upvotes, "Upvotes (battles won) per entrant (Table 4)"),
               *_agreement_blocks(audit)]
    return Section("Arena (SimPsyDial Algorithm 2)", blocks)
