"""Ratings and statistics over arena battles. Every counselor turn of a dialogue is one battle between its two
entrants, won by the one whose reply the supervisor chose; unparseable verdicts are not battles.

Elo as the paper reports it (Figure 6) is the online Elo of Chatbot Arena, which the paper follows: battles in
order, each moves both ratings by K x (outcome - expected). The paper states neither K nor the initial rating; we
use Chatbot Arena's K = 4 and 1000 (scale 400, base 10). Online Elo depends on battle order, so its intervals are
bootstrap percentiles over resampled battle logs (drawn with replacement, which also reorders them). The
Bradley-Terry maximum-likelihood fit does not depend on order and is the primary ranking; it is reported on the
Elo scale (1000 + 400 log10(e) x strength, centred on 1000) with the same bootstrap intervals.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

ELO_K = 4.0
ELO_INITIAL = 1000.0
ELO_SCALE = 400.0
ELO_BASE = 10.0
# A weak Gaussian prior on Bradley-Terry strengths (log-odds units). Without it an entrant that never lost has
# an infinite maximum-likelihood strength; with it the strength is finite and huge, and elsewhere it moves the
# fit by about a rating point.
BT_PRIOR_SD = 10.0
BOOTSTRAP_ROUNDS = 1000
INTERVAL = 0.95


@dataclass(frozen=True)
class Battle:
    a: str
    b: str
    winner: str  # a or b
    winner_position: str  # "A" or "B": where the supervisor saw the winning reply
    dialogue: str  # the dialogue's session_id
    turn: int  # index of the counselor turn

    @property
    def loser(self) -> str:
        return self.b if self.winner == self.a else self.a


Ratings = dict[str, float]


def entrants_of(battles: Sequence[Battle]) -> list[str]:
    return sorted({name for battle in battles for name in (battle.a, battle.b)})


def elo(battles: Sequence[Battle], entrants: Sequence[str] | None = None, k: float = ELO_K,
        initial: float = ELO_INITIAL) -> Ratings:
    ratings = {name: initial for name in (entrants or entrants_of(battles))}
    for battle in battles:
        winner, loser = battle.winner, battle.loser
        expected = 1 / (1 + ELO_BASE ** ((ratings[loser] - ratings[winner]) / ELO_SCALE))
        ratings[winner] += k * (1 - expected)
        ratings[loser] -= k * (1 - expected)
    return ratings


def win_counts(battles: Sequence[Battle], entrants: Sequence[str]) -> np.ndarray:
    """wins[i, j]: battles entrant i won against entrant j."""
    index = {name: i for i, name in enumerate(entrants)}
    wins = np.zeros((len(entrants), len(entrants)))
    for battle in battles:
        wins[index[battle.winner], index[battle.loser]] += 1
    return wins


def bradley_terry(battles: Sequence[Battle], entrants: Sequence[str] | None = None,
                  prior_sd: float = BT_PRIOR_SD, initial: float = ELO_INITIAL) -> Ratings:
    """Maximum a posteriori Bradley-Terry strengths, P(i beats j) = 1 / (1 + exp(s_j - s_i)), on the Elo scale."""
    names = list(entrants or entrants_of(battles))
    strengths = _map_strengths(win_counts(battles, names), prior_sd)
    strengths -= strengths.mean()
    per_unit = ELO_SCALE / math.log(ELO_BASE)
    return {name: initial + per_unit * float(s) for name, s in zip(names, strengths)}


def _map_strengths(wins: np.ndarray, prior_sd: float, tolerance: float = 1e-10, max_steps: int = 200) -> np.ndarray:
    """Damped Newton on the negative log posterior. The prior makes it strictly convex, so a few exact steps
    reach the optimum (a generic quasi-Newton solver took a hundred times longer, which the bootstrap repeats)."""
    met = wins + wins.T

    def objective(s: np.ndarray) -> float:
        return float(np.sum(wins * np.logaddexp(0.0, s[None, :] - s[:, None]))) + float(s @ s) / (2 * prior_sd**2)

    s = np.zeros(len(wins))
    value = objective(s)
    for _ in range(max_steps):
        p_win = special.expit(s[:, None] - s[None, :])  # p_win[i, j] = P(i beats j)
        grad = (wins.T * p_win).sum(axis=1) - (wins * p_win.T).sum(axis=1) + s / prior_sd**2
        weight = met * p_win * p_win.T
        hessian = np.diag(weight.sum(axis=1)) - weight + np.eye(len(s)) / prior_sd**2
        step = np.linalg.solve(hessian, grad)
        scale = 1.0
        while (candidate := objective(s - scale * step)) > value and scale > 1e-12:
            scale /= 2
        s, value = s - scale * step, min(candidate, value)
        if np.max(np.abs(scale * step), initial=0.0) < tolerance:
            break
    return s


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def bootstrap(battles: Sequence[Battle], fit: Callable[..., Ratings], rounds: int = BOOTSTRAP_ROUNDS,
              seed: int = 0, level: float = INTERVAL) -> dict[str, Interval]:
    """Percentile intervals of `fit` over battle logs resampled with replacement (seeded)."""
    names = entrants_of(battles)
    rng = random.Random(seed)
    samples = np.array([[fit(rng.choices(battles, k=len(battles)), names)[name] for name in names]
                        for _ in range(rounds)])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    return {name: Interval(float(lo), float(hi)) for name, lo, hi in zip(names, low, high)}


def battle_count_matrix(battles: Sequence[Battle], entrants: Sequence[str]) -> np.ndarray:
    """Battles between each pair of entrants, symmetric (the paper's Figure 14)."""
    wins = win_counts(battles, entrants)
    return wins + wins.T


def win_share_matrix(battles: Sequence[Battle], entrants: Sequence[str]) -> np.ndarray:
    """share[i, j]: the share of their battles entrant i won against entrant j; NaN where they never met."""
    wins = win_counts(battles, entrants)
    met = wins + wins.T
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(met > 0, wins / met, np.nan)


@dataclass(frozen=True)
class PositionBias:
    battles: int
    first_wins: int  # battles won by the reply shown as option A
    first_share: float
    p_value: float  # two-sided binomial test against a judge without position bias (share 0.5)


def position_bias(battles: Sequence[Battle]) -> PositionBias:
    n = len(battles)
    first = sum(battle.winner_position == "A" for battle in battles)
    p = stats.binomtest(first, n, 0.5).pvalue if n else math.nan
    return PositionBias(n, first, first / n if n else math.nan, float(p))


@dataclass(frozen=True)
class Dialogue:
    entrants: tuple[str, str]
    client_utterances: int
    counselor_utterances: int


@dataclass(frozen=True)
class Upvotes:
    entrant: str
    total: int  # battles won
    occurrences: int  # dialogues the entrant took part in
    average: float  # total / occurrences


@dataclass(frozen=True)
class Table4:
    dialogues: int
    client_utterances: int
    counselor_utterances: int
    turns_per_dialogue: float  # client-counselor turn pairs
    upvotes: list[Upvotes]

    @property
    def utterances(self) -> int:
        return self.client_utterances + self.counselor_utterances


def table4(dialogues: Sequence[Dialogue], battles: Sequence[Battle], entrants: Sequence[str]) -> Table4:
    """The paper's Table 4: dialogue statistics and upvotes (battles won) per entrant."""
    client = sum(d.client_utterances for d in dialogues)
    counselor = sum(d.counselor_utterances for d in dialogues)
    rows = []
    for name in entrants:
        total = sum(battle.winner == name for battle in battles)
        occurrences = sum(name in d.entrants for d in dialogues)
        rows.append(Upvotes(name, total, occurrences, total / occurrences if occurrences else math.nan))
    pairs = counselor / len(dialogues) if dialogues else math.nan
    return Table4(len(dialogues), client, counselor, pairs, rows)


@dataclass(frozen=True)
class PositionWins:
    """How one entrant fared when its reply was shown as option A, and as option B."""

    entrant: str
    shown_first: int
    won_first: int
    shown_second: int
    won_second: int


def position_wins(battles: Sequence[Battle], entrants: Sequence[str]) -> list[PositionWins]:
    rows = []
    for name in entrants:
        first = second = won_first = won_second = 0
        for battle in battles:
            if name not in (battle.a, battle.b):
                continue
            won = battle.winner == name
            # The loser was shown in the other position than the winner.
            shown_first = (battle.winner_position == "A") == won
            first, second = first + shown_first, second + (not shown_first)
            won_first, won_second = won_first + (won and shown_first), won_second + (won and not shown_first)
        rows.append(PositionWins(name, first, won_first, second, won_second))
    return rows
