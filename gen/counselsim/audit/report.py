"""The audit report of one corpus: sections built from its frames and manifest, written as report.md (with
figures/*.png), a self-contained report.html, and metrics.json holding every table."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from counselsim import __version__
from counselsim.audit import fidelity, labels, metrics, plots, run_counts
from counselsim.audit.arena import ArenaAudit, arena_section
from counselsim.audit.document import (
    Block,
    Figure,
    Report,
    Section,
    Table,
    Text,
    format_value,
    to_html,
    to_json,
    to_markdown,
)
from counselsim.audit.embeddings import Embedder
from counselsim.audit.feedback import feedback_section
from counselsim.audit.frames import CorpusFrames
from counselsim.audit.resistance import has_reaction_types, resistance_section
from counselsim.audit.wai import WaiResult
from counselsim.corpus import storage

FIGURES = "figures"

_TABLE1_ROWS = {
    "conversations": "# Conversations",
    "avg_turns": "Avg. Turns per Conversation",
    "client_utterances": "# Client Utterances",
    "counselor_utterances": "# Counselor Utterances",
    "avg_client_length": "Avg. Len. of Client Utterances",
    "avg_counselor_length": "Avg. Len. of Counselor Utterances",
    "length_unit": "Length unit",
}


def _by_language(frame: pl.DataFrame, value: str) -> dict[str, list[float]]:
    return {language: group[value].drop_nulls().to_list()
            for (language,), group in frame.sort("language").group_by("language", maintain_order=True)}


def overview(frames: CorpusFrames, manifest: dict[str, Any] | None, source: str) -> Section:
    languages = ", ".join(sorted(frames.sessions["language"].unique().to_list())) or "none"
    blocks = [Text(f"Corpus {source}: {frames.sessions.height} sessions ({frames.record_type} records), "
                   f"{frames.turns.height} turns, languages: {languages}. Audited by counselsim {__version__}.")]
    if manifest is None:
        blocks.append(Text("No manifest.json was found beside the shards, so run counts, drop reasons and dedup "
                           "statistics are not available."))
    return Section("Overview", blocks)


def statistics(frames: CorpusFrames) -> Section:
    t1 = metrics.table1(frames.sessions, frames.turns)
    columns = {"statistic": list(_TABLE1_ROWS.values())}
    for row in t1.iter_rows(named=True):
        columns[row["language"]] = [format_value(row[key]) for key in _TABLE1_ROWS]
    return Section("Corpus statistics (SimPsyDial Table 1)", [
        Text("A turn is one client-counselor exchange (turn pair), as in the paper. Lengths are characters for "
             "Chinese and words for English, so the languages are reported separately."),
        Table(pl.DataFrame(columns), "Statistics per language"),
    ])


def distributions(frames: CorpusFrames) -> Section:
    pairs = metrics.turn_pairs(frames.sessions, frames.turns)
    blocks: list[Block] = [
        Table(metrics.summary(pairs, "turn_pairs", ["language"]), "Turn pairs per conversation"),
        Figure("turn_pairs", plots.histogram(_by_language(pairs, "turn_pairs"), "Turn pairs per conversation",
                                             "turn pairs"), "Turn pairs per conversation"),
        Table(metrics.summary(frames.turns, "length", ["language", "speaker"]), "Utterance length"),
    ]
    for (language,), group in frames.turns.sort("language").group_by("language", maintain_order=True):
        unit = "characters" if language == "zh" else "words"
        by_speaker = {speaker: group.filter(pl.col("speaker") == speaker)["length"].to_list()
                      for speaker in ("client", "counselor")}
        blocks.append(Figure(f"length_{language}", plots.histogram(by_speaker, f"Utterance length ({language})", unit),
                             f"Utterance length, {language}, in {unit}"))
    return Section("Distributions", blocks)


def termination_and_regeneration(frames: CorpusFrames) -> Section:
    reasons = metrics.termination(frames.sessions)
    bar_labels = [f"{language} {reason}"
                  for language, reason in reasons.select("language", "termination_reason").iter_rows()]
    return Section("Termination and regeneration", [
        Table(reasons, "Termination reasons"),
        Figure("termination", plots.bars(bar_labels, reasons["n"].to_list(), "Termination reasons", "sessions"),
               "Termination reasons"),
        Text("A counselor reply is regenerated when it fails the refinement check (too long, a newline, an "
             "enumeration); a client turn only when it is empty. Dropped sessions are not in the corpus."),
        Table(metrics.regeneration(frames.turns), "Regenerated turns"),
        Table(metrics.sessions_with_regeneration(frames.turns), "Sessions with at least one regenerated turn"),
    ])


def run_section(manifest: dict[str, Any] | None) -> Section:
    if manifest is None:
        return Section("Run counts and drop reasons", [Text("Not available: the corpus has no manifest.json.")])
    drops = run_counts.drops(manifest)
    blocks: list[Block] = [Table(run_counts.counts(manifest), "Sessions of the run")]
    if drops.is_empty():
        blocks.append(Text("No session was dropped."))
    else:
        blocks += [Table(drops, "Drop reasons"),
                   Figure("drops", plots.bars(drops["reason"].to_list(), drops["n"].to_list(), "Drop reasons",
                                              "sessions"), "Drop reasons")]
    if manifest.get("versions"):
        blocks.append(Table(pl.DataFrame(run_counts.flatten(manifest["versions"]), schema=["component", "version"],
                                         orient="row"), "Versions"))
    return Section("Run counts and drop reasons", blocks)


def _fidelity_blocks(scores: pl.DataFrame, name: str, title: str) -> list[Block]:
    groups = {}
    for (language,), group in scores.sort("language").group_by("language", maintain_order=True):
        groups[f"{language} mapped"] = group["mapped"].drop_nulls().to_list()
        groups[f"{language} random"] = group["random"].drop_nulls().to_list()
    return [Table(fidelity.compare(scores), f"{title}: true mapping against random mapping"),
            Figure(name, plots.histogram(groups, title, title.lower()), f"{title}, true and random mapping")]


def fidelity_section(frames: CorpusFrames, embedder: Embedder | None, seed: int) -> Section:
    pairs = fidelity.pairs(frames.sessions, frames.turns, seed)
    unpaired = pairs["partner"].null_count()
    blocks: list[Block] = [
        Text("S is the concatenation of a session's client utterances, R its rendered role card. The random "
             f"mapping pairs S with the card of another session of the same language (seeded derangement, seed "
             f"{seed}); {unpaired} of {pairs.height} sessions have no control pair (the only session of its "
             "language, or the partner shares its card). Groups are compared with Welch's two-sided t-test "
             "(scipy.stats.ttest_ind, equal_var=False); std is the sample standard deviation."),
        Text(f"Vocabulary overlap rate (Eq. 1) = |V(S) ∩ V(R)| / |V(R)|. {fidelity.TOKENIZATION} For an imported "
             "session R is the chief complaint it was given (none: no score)."),
        *_fidelity_blocks(fidelity.vocabulary_overlap(pairs), "overlap", "Vocabulary overlap rate"),
    ]
    if embedder is None:
        blocks.append(Text("Semantic consistency (Eq. 2) was not computed: no embedding model was given."))
    else:
        blocks += [Text(f"Semantic consistency (Eq. 2) = cos(e(R), e(S)), embeddings by {embedder.name}."),
                   *_fidelity_blocks(fidelity.semantic_consistency(pairs, embedder), "semantic",
                                     "Semantic consistency")]
    return Section("Client fidelity (SimPsyDial §4.1)", blocks)


def labels_section(frames: CorpusFrames) -> Section:
    turns, sessions = frames.turns, frames.sessions
    groups = labels.behaviour_distribution(turns, ["label_group"])
    blocks: list[Block] = [
        Table(groups, "Client behaviour by group"),
        Figure("behaviour", plots.bars(groups["label_group"].to_list(), groups["n"].to_list(),
                                       "Client behaviour", "client turns"), "Client behaviour by group"),
        Table(labels.behaviour_distribution(turns, ["label_group", "label"]), "Client behaviour by label"),
        Text("Client cooperation rate = collaboration-labeled client turns / labeled client turns."),
        Table(labels.cooperation_rate(turns), "Client cooperation rate"),
        Text("Resistance-triggering rate = the share of counselor turns, followed by a labeled client turn, "
             "whose next client turn is labeled resistance."),
        Table(labels.resistance_trigger_rate(turns), "Counselor turns followed by resistance"),
    ]
    if "episode" in sessions.columns:
        blocks += [Table(labels.episode_stats(sessions), "Resistance episodes"),
                   Table(labels.episode_reaction_types(sessions), "Episodes by reaction type")]
    blocks += [
        Text("Labeler agreement with injected resistance: recall = injected client turns labeled resistance / "
             "injected client turns with a label."),
        Table(labels.injected_agreement(turns), "Labels of injected turns"),
        Table(labels.injected_confusion(turns), "Fine-grained labels of injected turns by injected reaction type"),
    ]
    return Section("Labels", blocks)


def dedup_section(manifest: dict[str, Any]) -> Section | None:
    report = run_counts.dedup(manifest)
    return None if report is None else Section("Deduplication", [Table(report, "Dedup report of the run")])


def wai_section(wai: WaiResult) -> Section:
    s = wai.settings
    judged = wai.sessions.height
    calls, unparseable, failed = (int(wai.sessions[c].sum()) for c in ("calls", "unparseable", "failed"))
    answer = ("guided decoding chose one of 1-7" if wai.guided else
              "the backend has no guided decoding, so the output was parsed strictly: the first standalone number "
              "in it must be a single digit 1-7, anything else is unparseable and left out")
    sample = (f" (stages.wai.max_sessions = {s.max_sessions}: the first sessions of the corpus)"
              if judged < wai.corpus_sessions else "")
    blocks: list[Block] = [
        Text(f"Judge: {wai.judge}. Scores are only as good as the judge: the paper used Qwen1.5-110B-Chat, and the "
             "scores of a small or toy model (such as the embedded SmolLM2) mean nothing about the corpus."),
        Text(f"Each of the 12 WAI-O-S items (paper Figure 10) was scored from 1 to 7 with the prompt of Figure 11, in "
             f"{s.rounds} independent rounds per item (distinct seeds, temperature {wai.temperature}); {answer}. "
             "A session's item score is the mean of its parsed rounds, items 4 and 10 reversed (8 - x); a factor is "
             "the mean of its four items, and has no score for a session where one of them has none. The "
             "guidelines in the prompt are one-line paraphrases of the items (wai_items.yaml), not the WAI-O "
             "manual's guidelines the paper used, so the scores are not directly comparable to the paper's. std is "
             "the sample standard deviation over sessions."),
        Text(f"{judged} of {wai.corpus_sessions} sessions judged{sample}; {calls} judge calls, {unparseable} "
             f"unparseable, {failed} failed (engine errors, e.g. a conversation beyond the judge's context)."),
        Table(wai.factors, "WAI-O-S factor scores"),
        Table(wai.items, "WAI-O-S item scores (reverse items as 8 - x)"),
    ]
    if examples := wai.unparseable_outputs():
        blocks.append(Table(pl.DataFrame({"output": examples}), "Unparseable judge outputs (first distinct ones)"))
    if errors := wai.errors():
        blocks.append(Table(pl.DataFrame({"error": errors}), "Failed judge calls (first distinct errors)"))
    return Section("Working alliance (WAI-O-S, LLM judge)", blocks)


@dataclass
class Reference:
    """A reference corpus to put beside the audited one (`audit --reference`), and its WAI scores if judged."""

    frames: CorpusFrames
    source: str
    wai: WaiResult | None = None


def _samples(frames: CorpusFrames, embedder: Embedder | None, seed: int,
             wai: WaiResult | None) -> dict[str, pl.DataFrame]:
    """Per metric, one value per unit (session or utterance) with its language: what the t-tests compare."""
    lengths = frames.turns.select("language", "speaker", value=pl.col("length"))
    out = {
        "Turn pairs per conversation": metrics.turn_pairs(frames.sessions, frames.turns)
        .select("language", value=pl.col("turn_pairs")),
        "Client utterance length": lengths.filter(pl.col("speaker") == "client").drop("speaker"),
        "Counselor utterance length": lengths.filter(pl.col("speaker") == "counselor").drop("speaker"),
    }
    pairs = fidelity.pairs(frames.sessions, frames.turns, seed)
    out["Vocabulary overlap rate (true mapping)"] = fidelity.vocabulary_overlap(pairs).select(
        "language", value=pl.col("mapped"))
    if embedder is not None:
        out["Semantic consistency (true mapping)"] = fidelity.semantic_consistency(pairs, embedder).select(
            "language", value=pl.col("mapped"))
    if wai is not None:
        for factor in wai.factors["factor"]:
            out[f"WAI {factor}"] = wai.sessions.select("language", value=pl.col(factor))
    return out


def reference_section(frames: CorpusFrames, source: str, reference: Reference, embedder: Embedder | None,
                      seed: int, wai: WaiResult | None) -> Section:
    corpus_t1, reference_t1 = (metrics.table1(f.sessions, f.turns) for f in (frames, reference.frames))
    languages = sorted(set(corpus_t1["language"]) | set(reference_t1["language"]))
    side = {"statistic": list(_TABLE1_ROWS.values())}
    for language in languages:
        for label, t1 in (("corpus", corpus_t1), ("reference", reference_t1)):
            rows = t1.filter(pl.col("language") == language).to_dicts()
            side[f"{language} {label}"] = [format_value(rows[0][k]) if rows else "–" for k in _TABLE1_ROWS]
    corpus, ref = (_samples(f, embedder, seed, w) for f, w in ((frames, wai), (reference.frames, reference.wai)))
    tests = [{"metric": metric, "language": language,
              **metrics.two_samples(corpus[metric].filter(pl.col("language") == language)["value"],
                                    ref[metric].filter(pl.col("language") == language)["value"])}
             for metric in corpus if metric in ref for language in languages]
    both_judged = wai is not None and reference.wai is not None
    blocks: list[Block] = [
        Text(f"Corpus {source} beside the reference corpus {reference.source}. Each metric is compared per "
             "language over its units (sessions; utterances for lengths) with Welch's two-sided t-test "
             "(scipy.stats.ttest_ind, equal_var=False); d is Cohen's d, (corpus mean - reference mean) / pooled "
             "sample std. The fidelity metrics are computed in both corpora as the fidelity section describes."
             + ("" if both_judged else " WAI is compared only when both corpora were judged.")),
        Table(pl.DataFrame(side), "SimPsyDial Table 1, corpus and reference"),
        Table(pl.DataFrame(tests), "Corpus against reference"),
    ]
    for metric in ("Turn pairs per conversation", "Client utterance length", "Counselor utterance length"):
        for language in languages:
            groups = {label: samples[metric].filter(pl.col("language") == language)["value"].to_list()
                      for label, samples in (("corpus", corpus), ("reference", ref))}
            name = f"reference_{metric.split()[0].lower()}_{language}"
            blocks.append(Figure(name, plots.histogram(groups, f"{metric} ({language})", metric.lower()),
                                 f"{metric}, {language}: corpus and reference"))
    return Section("Comparison with the reference corpus", blocks)


def build_report(frames: CorpusFrames, manifest: dict[str, Any] | None, embedder: Embedder | None, seed: int,
                 source: str, wai: WaiResult | None = None, feedback: pl.DataFrame | None = None,
                 reference: Reference | None = None, arena: ArenaAudit | None = None) -> Report:
    """`wai`: the corpus as an LLM judge scored it (counselsim.audit.wai), for a working-alliance section;
    `feedback`: the records of a feedback corpus over it (counselsim.audit.feedback); `reference`: a corpus to
    compare with, side by side and metric by metric; `arena`: the battles of an arena corpus
    (counselsim.audit.arena), for ratings of its entrants."""
    sections = [
        overview(frames, manifest, source),
        statistics(frames),
        distributions(frames),
        termination_and_regeneration(frames),
        run_section(manifest),
        fidelity_section(frames, embedder, seed),
    ]
    if wai is not None:
        sections.append(wai_section(wai))
    if reference is not None:
        sections.append(reference_section(frames, source, reference, embedder, seed, wai))
    if labels.is_labeled(frames.turns):
        sections.append(labels_section(frames))
    if has_reaction_types(frames.turns):
        sections.append(resistance_section(frames.sessions, frames.turns, wai.sessions if wai is not None else None))
    if feedback is not None:
        sections.append(feedback_section(feedback))
    if arena is not None:
        sections.append(arena_section(arena, seed))
    if manifest is not None and (dedup := dedup_section(manifest)):
        sections.append(dedup)
    return Report(f"Audit of {source}", sections)


def write_report(report: Report, out: str) -> None:
    for figure in report.figures():
        storage.write_bytes(storage.join(out, FIGURES, f"{figure.name}.png"), figure.png)
    storage.write_json(storage.join(out, "metrics.json"), to_json(report))
    storage.write_bytes(storage.join(out, "report.md"), to_markdown(report, FIGURES).encode("utf-8"))
    storage.write_bytes(storage.join(out, "report.html"), to_html(report).encode("utf-8"))
