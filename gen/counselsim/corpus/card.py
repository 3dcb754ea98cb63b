"""The dataset card: `<corpus>/README.md`, YAML front matter in the Hugging Face convention and a short account
of what the corpus is and how it was made, written from the run's manifest and the shards' Arrow schema."""
from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import yaml

from counselsim.arena import card as arena_card
from counselsim.config import RefinementConfig
from counselsim.corpus import storage
from counselsim.corpus.shards import DATA, SHARD_PATTERN, record_type
from counselsim.simpsydial import refinement as sigma
from counselsim.simpsydial import termination

DEFAULT_LICENSE = "cc-by-4.0"
README = "README.md"
SIMPSYDIAL_PAPER = ("Huachuan Qiu and Zhenzhong Lan. Interactive Agents: Simulating Counselor-Client Psychological "
                    "Counseling via Role-Playing LLM-to-LLM Interactions.")
RPC_PAPERS = ("Beyond Compliance: A Resistance-Informed Motivation Reasoning Framework for Challenging Psychological "
              "Client Simulation (ResistClient, the RPC corpus). Anqi Li, Yuqian Chen, Yu Lu, Zhaoming Chen, Yuan Xie "
              "and Zhenzhong Lan. RECAP: Resistance Capture in Text-based Mental Health Counseling with Large "
              "Language Models (PsyFIRE).")

# Hugging Face spells some Arrow types differently (see datasets.Features.from_arrow_schema).
_HF_DTYPES = {"double": "float64", "float": "float32", "halffloat": "float16"}
# size_categories buckets of the Hub, by upper bound.
_SIZE_BUCKETS = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                 (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]


def feature(dtype: pa.DataType) -> dict[str, Any]:
    """One Arrow type as a `dataset_info.features` entry (without its name)."""
    if pa.types.is_struct(dtype):
        return {"struct": [{"name": f.name, **feature(f.type)} for f in dtype]}
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        key = "large_list" if pa.types.is_large_list(dtype) else "list"
        inner = feature(dtype.value_type)
        # A list of a plain type names the type; a list of structs lists the struct's fields.
        return {key: inner.get("dtype") or inner.get("struct") or inner}
    return {"dtype": _HF_DTYPES.get(str(dtype), str(dtype))}


def features(schema: pa.Schema) -> list[dict[str, Any]]:
    return [{"name": f.name, **feature(f.type)} for f in schema]


def size_category(rows: int) -> str:
    return next((label for bound, label in _SIZE_BUCKETS if rows < bound), "n>1B")


def uncompressed_bytes(uri: str) -> int:
    """A shard's uncompressed size from its Parquet footer; the Hub's `num_bytes` is the size of the data in
    memory, and this is close to it without reading the data."""
    if storage.is_remote(uri):
        fs, path = pafs.FileSystem.from_uri(uri)
        with fs.open_input_file(path) as f:
            meta = pq.read_metadata(f)
    else:
        meta = pq.read_metadata(storage.local_path(uri))
    return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))


def _languages(manifest: dict[str, Any]) -> list[str]:
    """The languages the run recorded, else those its role-card settings asked for."""
    config = manifest.get("config") or {}
    return list(manifest.get("languages") or (config.get("role_cards") or {}).get("languages") or [])


def _is_rpc(manifest: dict[str, Any]) -> bool:
    if manifest.get("record_type"):
        return manifest["record_type"] == "rpc_session"
    return (manifest.get("pipeline") or (manifest.get("config") or {}).get("pipeline")) == "rpc"


def front_matter(manifest: dict[str, Any], schema: pa.Schema, name: str, num_bytes: int) -> dict[str, Any]:
    shards = manifest.get("shards", [])
    rows = sum(s["rows"] for s in shards)
    run = (manifest.get("config") or {}).get("run") or {}
    languages = _languages(manifest)
    return {
        "pretty_name": name,
        "license": run.get("license", DEFAULT_LICENSE),
        "language": languages,
        "annotations_creators": ["machine-generated"],
        "language_creators": ["machine-generated"],
        "multilinguality": ["multilingual" if len(languages) > 1 else "monolingual"],
        "size_categories": [size_category(rows)],
        "source_datasets": ["original"],
        "task_categories": ["text-generation"],
        "tags": ["synthetic", "dialogue", "counseling", "mental-health",
                 *(["client-resistance", "rpc", "psyfire"] if _is_rpc(manifest) else ["simpsydial"]),
                 *(["arena", "preference"] if manifest.get("record_type") == "arena_dialogue" else [])],
        "configs": [{"config_name": "default", "data_files": [
            {"split": "train", "path": str(PurePosixPath(DATA, SHARD_PATTERN))}]}],
        "dataset_info": {
            "features": features(schema),
            "splits": [{"name": "train", "num_bytes": num_bytes, "num_examples": rows}],
            "download_size": sum(s["bytes"] for s in shards),
            "dataset_size": num_bytes,
        },
    }


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in rows]


def _simpsydial_method(config: dict[str, Any]) -> list[str]:
    lines = []
    session = config.get("session") or {}
    if session:
        refinement = session.get("refinement") or {}
        lines += ["", (f"Sessions open with a fixed client greeting and alternate client and counselor turns until the "
                      f"termination rule g ends them or {session.get('max_turn_pairs')} turn pairs; sessions shorter "
                      f"than {session.get('min_turn_pairs')} pairs are dropped.")]
        # Both texts are generated from the data files the rules read, so the card cannot disagree with the code.
        limits = RefinementConfig.model_validate(refinement)
        for language in (config.get("role_cards") or {}).get("languages") or ["zh", "en"]:
            lines += ["", f"Termination g ({language}): {termination.describe(language)}",
                      "", f"Check σ ({language}): {sigma.describe(language, limits)}"]
    pools = (config.get("role_cards") or {}).get("pools")
    if pools:
        lines += ["", "Role-card pools: " + ", ".join(f"`{p}`" for p in pools) + "."]
    return lines


def _rpc_method(config: dict[str, Any], manifest: dict[str, Any]) -> list[str]:
    rpc = (config.get("stages") or {}).get("rpc") or {}
    injection = rpc.get("injection") or {}
    labeler = rpc.get("labeler") or {}
    lines = ["", (f"Input corpus: `{(config.get('run') or {}).get('input')}`. {_rpc_selection(rpc, manifest)} The "
                 f"profiler writes a 5P profile (presenting, predisposing, precipitating, perpetuating, protective) "
                 f"of each session's client.")]
    lines += ["", *_rpc_episodes(injection, manifest)]
    lines += ["", (f"The labeler then gives every client turn a binary label (resistance or collaboration), a "
                  f"fine-grained PsyFIRE behaviour and a rationale, and, beside them, one of the seven RPC reaction "
                  f"types (controlling, emotional, defensive, avoidant, compliant, non-resistant, facilitative) with "
                  f"a rationale ({labeler.get('shots', 0)}-shot prompts). A label that could not be parsed is "
                  f"recorded `unparseable`, never guessed. A reaction type a live resistant client declared in the "
                  f"input is kept as `reaction_type` (`reaction_source` = declared) beside the labeler's.")]
    imported = (manifest.get("input_corpus") or {}).get("import")
    if imported:
        lines += ["", f"The input sessions were not generated here: they were imported by `counselsim import "
                      f"--format {imported.get('format')}` from `{imported.get('source')}`"
                      + (f" (chief complaints from `{imported['complaints']}`)" if imported.get("complaints") else "")
                      + ". Their role cards are partial (the chief complaint at most), so the prompts show only "
                        "that, and, having no resistance level, each session's target share of episodes was the "
                        "plain rate; regenerated counselor replies use this run's counselor role and system prompt, "
                        "not one the source kept. Apart from the rewritten and regenerated turns, the text is the "
                        "source's."]
    check = manifest.get("self_check") or {}
    binary = check.get("binary") or {}
    if check:
        lines += ["", (f"Labeler self-check on the {check.get('injected_turns')} injected turns (their reaction type "
                      f"is known): binary precision {_fmt(binary.get('precision'))}, recall "
                      f"{_fmt(binary.get('recall'))}, F1 {_fmt(binary.get('f1'))}; "
                      f"{check.get('unparseable')} of {check.get('client_turns')} client turns unparseable.")]
        declared = (check.get("reaction_label") or {}).get("declared") or {}
        if declared.get("support"):
            macro = declared.get("macro") or {}
            lines += ["", (f"Reaction labels against the {declared['support']} types the live clients declared: "
                          f"macro precision {_fmt(macro.get('precision'))}, recall {_fmt(macro.get('recall'))}, F1 "
                          f"{_fmt(macro.get('f1'))}; {declared.get('unparseable')} unparseable.")]
        lines += ["", "The full report, per type, is in `manifest.json` under `self_check`."]
    return lines


def _rpc_selection(rpc: dict[str, Any], manifest: dict[str, Any]) -> str:
    selection = rpc.get("selection") or {}
    per_topic, most = selection.get("per_topic"), selection.get("max_sessions")
    if per_topic is None and most is None:
        return "Every input session was transformed."
    report = manifest.get("selection") or {}
    limits = ", ".join([*([f"at most {per_topic} per topic"] if per_topic is not None else []),
                        *([f"at most {most} in all, topics interleaved"] if most is not None else [])])
    counts = (f": {report['selected_sessions']} of {report['input_sessions']} sessions over "
              f"{len(report.get('selected_topics') or {})} topics" if "selected_sessions" in report else "")
    return (f"Input sessions were selected across the role cards' topics ({limits}; shuffled within a topic by the "
            f"run seed){counts}; `manifest.json` has the counts per topic under `selection`.")


def _rpc_episodes(injection: dict[str, Any], manifest: dict[str, Any]) -> list[str]:
    """What the planner decided and how the transcript was kept coherent, in the words of the settings and the
    manifest's `episodes` and `regeneration_sampling`."""
    if injection.get("enabled") is False:
        return [("Label-only pass (`stages.rpc.injection.enabled: false`): no planner call, no episode; the input "
                "turns are unchanged.")]
    episodes = manifest.get("episodes") or {}
    lines = [f"A planner model (the rewriter role) read each session's 5P profile, its card's resistance level, the "
             f"dialogue and the five resistant reaction types with their definitions, and decided whether the "
             f"session gets one resistance episode, where, and of which type; it could always decline. The share "
             f"{injection.get('rate')} times the weight of the card's resistance level (capped at 1) was shown to "
             f"it as a target, never drawn"
             + (f": {_fmt(episodes.get('share'))} of sessions got an episode against a target of "
                f"{_fmt(episodes.get('target'))} (per level in `manifest.json` under `episodes`)"
                if episodes.get("share") is not None else "")
             + f". An episode rewrites up to {injection.get('max_turns')} consecutive client turns with the chosen "
               f"type, each with its motivation reasoning (profile reflection, situation awareness, reaction "
               f"decision) and original text kept; the counselor reply after each changed turn is regenerated "
               f"through σ."]
    mode = injection.get("continuation", "check")
    how = ("the rewriter judged whether the original next client turn still follows the regenerated counselor "
           "reply: if so it was kept (`rejoined`), otherwise " if mode == "check" else "")
    lines += ["", f"After the episode, where an original client turn follows (continuation `{mode}`), {how}every "
                  "later turn was "
                  "regenerated in order (`regenerated`): client turns by the client role under the SimPsyDial "
                  "client prompt of the card, counselor turns through σ, the session ending early on a counselor "
                  "closing by g. `episode.continuation` says which, `session_end` where nothing original followed; "
                  "regenerated turns are marked `regenerated` and keep `original_text`."
                  + (" Continuations: " + ", ".join(f"{n} {k}" for k, n in episodes["continuation"].items())
                     + f"; {episodes.get('counselor_regenerated')} counselor and "
                       f"{episodes.get('client_regenerated')} client turns regenerated."
                     if episodes.get("continuation") else "")]
    sampling = manifest.get("regeneration_sampling") or {}
    if sampling:
        source = ("as the input corpus was generated (its manifest's roles; the counselor and client rows above "
                  "name only the model)" if sampling.get("source") == "input manifest"
                  else "as this run's config says (the input recorded no generation sampling)")
        lines += ["", f"Regenerated turns were sampled {source}: "
                      + "; ".join(f"{role} temperature {v.get('temperature')}, top_p {v.get('top_p')}, max_tokens "
                                  f"{v.get('max_tokens')}" for role, v in sampling.items() if isinstance(v, dict))
                      + "."]
    return lines


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def _generation(manifest: dict[str, Any], kind: str) -> list[str]:
    config = manifest.get("config") or {}
    models = config.get("models") or {}
    lines = [f"Pipeline: `{config.get('pipeline', kind)}`, run seed {(config.get('run') or {}).get('seed')}."]
    roles = config.get("roles") or {}
    if roles:
        lines += ["", "Each role is played by a model, sampled as follows:", ""]
        lines += _table(["role", "model", "backend", "temperature", "top_p", "max_tokens", "repetition_penalty", "stop"], [
            [role, (models.get(r.get("model")) or {}).get("path", r.get("model")),
             (models.get(r.get("model")) or {}).get("backend", ""), r.get("temperature"), r.get("top_p"),
             r.get("max_tokens"), r.get("repetition_penalty", 1.0), json.dumps(r.get("stop") or [])]
            for role, r in roles.items()])
    lines += _rpc_method(config, manifest) if kind == "rpc" else _simpsydial_method(config)
    if kind == "arena":
        lines += arena_card.method(config)
    counts = manifest.get("counts") or {}
    if "attempted" in counts:
        lines += ["", (f"Sessions attempted: {counts.get('attempted')}, written: {counts.get('written')}, "
                      f"dropped: {counts.get('dropped')}.")]
    if "rejections" in manifest:
        rejected = ", ".join(f"{n} {reason}" for reason, n in manifest["rejections"].items())
        lines += ["", (f"Generated replies rejected and regenerated, by reason (over the sessions written): "
                      f"{rejected or 'none'}.")]
    if manifest.get("command") == "dedup":
        removed = ", ".join(f"{n} {reason}" for reason, n in sorted((counts.get("removed") or {}).items()))
        lines += ["", (f"This corpus is `counselsim dedup` of `{manifest.get('input')}`: {counts.get('rows')} of "
                      f"{counts.get('input')} sessions kept (removed: {removed or 'none'}).")]
    drops = manifest.get("drops") or {}
    if drops:
        lines += ["", *_table(["drop reason", "sessions"], [[k, v] for k, v in sorted(drops.items())])]
    if manifest.get("dedup"):
        lines += ["", ("Near-duplicate and looping sessions were removed by the dedup stage; its report is in "
                      "`manifest.json` under `dedup`.")]
    versions = manifest.get("versions") or {}
    if versions:
        lines += ["", "Software: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + "."]
    return lines


def _imported(manifest: dict[str, Any]) -> list[str]:
    """How an imported corpus was made: where its dialogues came from and what was rejected."""
    spec, counts = manifest.get("import") or {}, manifest.get("counts") or {}
    lines = [f"Imported by `counselsim import --format {spec.get('format')}` from `{spec.get('source')}`"
             + (f", with the chief complaints in `{spec['complaints']}`" if spec.get("complaints") else "")
             + f": {counts.get('imported')} of {counts.get('input')} records imported, {counts.get('rejected')} "
               "rejected" + (f" (listed in `{spec['rejection_report']}`)." if spec.get("rejection_report") else ".")]
    lines += ["", ("The dialogues were not generated here: each session's `source` names its file and record, its "
                  "role card is partial (the chief complaint at most), and the generation fields (models, seed, "
                  "termination reason, times) are null. The text is kept exactly as the source has it.")]
    versions = manifest.get("versions") or {}
    if versions:
        lines += ["", "Software: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + "."]
    return lines


INTROS = {
    "import": "Counseling dialogues made elsewhere, imported into counselsim's session records.",
    "simpsydial": "Synthetic psychological-counseling dialogues between a role-playing LLM client and an LLM "
                  "counselor, generated with counselsim following the SimPsyDial method.",
    "rpc": "Synthetic counseling dialogues with client resistance, made with counselsim following the RPC method: "
           "sessions of a SimPsyDial-style corpus with a 5P client profile, at most one injected resistance "
           "episode, and every client turn labeled with a PsyFIRE behaviour and one of seven reaction types, each "
           "with a rationale.",
    "arena": arena_card.INTRO,
}
ROW_DESCRIPTIONS = {
    "import": "One row per session (`origin` = imported): the turns in order, the source record (`source`: format, "
              "file, index, the counselor's system prompt if it had one) and a partial role card.",
    "simpsydial": "One row per session: the client's role card, the models that played each role, the turns in "
                  "order (`turns`, each with its speaker and text) and how the session ended.",
    "rpc": "One row per session: the fields of the input session, its 5P profile (`profile_5p`), the planner's "
           "decision (`episode_decision`), the injected episode (`episode`: turn indices, reaction type, the "
           "planner's reason, the continuation and the regenerated-turn counts; empty when none), the topic it was "
           "selected under (`topic`) and the turns, each client turn "
           "with its PsyFIRE labels (`label_binary`, `label`, `label_group`, `label_rationale`, `label_status`), its "
           "reaction-type label (`reaction_label`, `reaction_label_rationale`, `reaction_label_status`), a declared "
           "or injected `reaction_type` with its `motivation` and `reaction_source`, and, when rewritten, "
           "`injected` and `original_text` (a regenerated turn of either speaker: `regenerated` and "
           "`original_text`).",
    "arena": arena_card.ROW_DESCRIPTION,
}


def render(manifest: dict[str, Any], schema: pa.Schema, name: str, num_bytes: int) -> str:
    meta = front_matter(manifest, schema, name, num_bytes)
    record = record_type(schema) or manifest.get("record_type")
    if record == "feedback":  # ratings of replies, not sessions: the stage writes its own account
        from counselsim.feedback.card import body as feedback_body

        header = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
        return f"---\n{header}---\n\n" + "\n".join(feedback_body(manifest, schema, name, meta))
    kind = ("import" if manifest.get("command") == "import" else "rpc" if _is_rpc(manifest)
            else "arena" if record == "arena_dialogue" else "simpsydial")
    rows = meta["dataset_info"]["splits"][0]["num_examples"]
    body = [
        f"# {name}",
        "",
        (f"{INTROS[kind]} {rows} sessions ('{record}' records) in {len(manifest.get('shards', []))} Parquet shards "
        f"under `{DATA}/`; languages: {', '.join(meta['language']) or 'not recorded'}."),
        "",
        "## Dataset structure",
        "",
        (f"{ROW_DESCRIPTIONS[kind]} `manifest.json` holds the run's configuration, counts and the sha256 of every "
        "shard."),
        "",
        *_table(["field", "type"], [[f.name, str(f.type)] for f in schema]),
        "",
        "## How it was generated",
        "",
        *(_imported(manifest) if kind == "import" else _generation(manifest, kind)),
        "",
        "## Uses and limitations",
        "",
        _provenance_note(manifest, kind),
        "",
        "## License",
        "",
        f"{meta['license']}. Check the licenses of the role-card sources and of the models that generated the text.",
        "",
        "## Citation",
        "",
        f"The generation method: {SIMPSYDIAL_PAPER}",
        *(["", f"Resistance episodes and labels: {RPC_PAPERS}"] if kind == "rpc" else []),
        "",
    ]
    header = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    return f"---\n{header}---\n\n" + "\n".join(body)


def _provenance_note(manifest: dict[str, Any], kind: str) -> str:
    """Whose text the dialogues are: machine-generated role play, imported text, or imported text partly rewritten."""
    use = ("They are meant for research and for training and evaluating dialogue models; they are not clinical advice "
           "and must not be used to assess or treat anyone.")
    if kind == "import":
        return ("The dialogues are the source's text, imported unchanged; counselsim did not generate or review them, "
                "and what they are (real or simulated counseling) and who may use them is the source's to say. " + use)
    if kind == "rpc" and (manifest.get("input_corpus") or {}).get("import"):
        return ("The dialogues are the imported source's text, except the rewritten client turns and the regenerated "
                "counselor replies, which are machine-generated; none was reviewed by clinicians. " + use)
    return ("The dialogues are machine-generated role play, not records of real counseling, and were not reviewed by "
            "clinicians. " + use)


def write_dataset_card(out: str, manifest: dict, schema: pa.Schema) -> None:
    name = PurePosixPath(out.rstrip("/")).name
    num_bytes = sum(uncompressed_bytes(storage.join(out, s["name"])) for s in manifest.get("shards", []))
    storage.write_bytes(storage.join(out, README), render(manifest, schema, name, num_bytes).encode("utf-8"))
