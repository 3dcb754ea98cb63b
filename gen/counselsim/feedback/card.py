"""The dataset card body of a feedback corpus (corpus/card.py writes the front matter and calls this): what the
records are, how they were made, and the limits of a prompted judge."""
from __future__ import annotations

from typing import Any

import pyarrow as pa

from counselsim.corpus.shards import DATA

PAPER = ("Li, A., Wang, R., Chen, Z., Chen, Y., Lu, Y., Zhu, Y., Xie, Y. and Lan, Z. "
         "Multi-dimensional Assessment and Explainable Feedback for Counselor Responses to Client Resistance in "
         "Text-based Counseling with LLMs. arXiv:2602.21638, 2026.")
RECAP = ("Anqi Li, Yuqian Chen, Yu Lu, Zhaoming Chen, Yuan Xie and Zhenzhong Lan. RECAP: Resistance Capture in "
         "Text-based Mental Health Counseling with Large Language Models (PsyFIRE).")


def _judge(config: dict[str, Any]) -> str:
    role = (config.get("roles") or {}).get("judge") or {}
    model = (config.get("models") or {}).get(role.get("model")) or {}
    return (f"`{model.get('path')}` ({model.get('backend')} backend, temperature {role.get('temperature')}, "
            f"max_tokens {role.get('max_tokens')})")


def _agreement(summary: dict[str, Any]) -> list[str]:
    agreement = summary.get("agreement")
    if not agreement:
        return ["No expert ratings were given (`stages.feedback.expert_ratings`), so the judge's agreement with "
                "experts on this corpus is unknown."]
    f1 = ", ".join(f"{m.replace('_', ' ')} {s['macro_f1']:.2f}" if s["macro_f1"] is not None else f"{m} n/a"
                   for m, s in agreement["mechanisms"].items())
    return [f"Agreement with the {agreement['compared']} expert-rated items found in this corpus (macro-F1 over the "
            f"three levels): {f1}. Confusion matrices are in `manifest.json` under `feedback.agreement`."]


def body(manifest: dict[str, Any], schema: pa.Schema, name: str, meta: dict[str, Any]) -> list[str]:
    config = manifest.get("config") or {}
    settings = (config.get("stages") or {}).get("feedback") or {}
    summary = manifest.get("feedback") or {}
    selection = summary.get("selection") or {}
    rows = meta["dataset_info"]["splits"][0]["num_examples"]
    drops = manifest.get("drops") or {}
    source = ("the PsyFIRE labels of the input (an rpc corpus)" if selection.get("label_source") == "corpus" else
              "the RECAP-style labeler of this run, applied to every client turn before a counselor reply "
              f"(replies after collaboration dropped: {drops.get('client_not_resistant', 0)})")
    return [
        f"# {name}",
        "",
        f"Feedback on counselor responses to client resistance, made with counselsim following Li et al. (2026): "
        f"{rows} counselor replies that follow a resistant client turn ('feedback' records) in "
        f"{len(manifest.get('shards', []))} Parquet shards under `{DATA}/`; languages: "
        f"{', '.join(meta['language']) or 'not recorded'}. Each is rated on four communication mechanisms (respect "
        "for autonomy, stance alignment, emotional resonance, conversational orientation) at three levels (0 no "
        "expression, 1 weak, 2 strong), with an explanation.",
        "",
        "## Dataset structure",
        "",
        "One row per rated reply: `item_id` (`<session_id>#<turn>`), the session, the reply's turn (the client turn "
        "is the one before), both texts, the counselor model, the client's PsyFIRE label (`resistance_label`, "
        "`resistance_group`, `label_source`), the four levels, `explanation`, `judge_status` (`ok` or "
        "`unparseable`: no parseable answer, levels null, the raw output kept in `judge_output`) and the judge. "
        "Fields: " + ", ".join(f"`{f.name}` ({f.type})" for f in schema) + ".",
        "",
        "## How it was made",
        "",
        f"Input corpus: `{(config.get('run') or {}).get('input')}`. Replies were selected from {source}: "
        f"{selection.get('after_resistance', 0) or selection.get('to_label', 0)} candidates in "
        f"{selection.get('sessions', 0)} sessions. The judge {_judge(config)} saw the last "
        f"{settings.get('context_turns')} turns before the client turn, the client turn"
        f"{' with its PsyFIRE behaviour' if settings.get('show_resistance_label') else ''} and the reply, and "
        f"answered four integers and an explanation (guided JSON where the backend has it, strict parsing "
        f"otherwise; {settings.get('attempts')} attempts). {summary.get('unparseable', 0)} of "
        f"{summary.get('judged', rows)} judgements were unparseable.",
        "",
        *_agreement(summary),
        "",
        "## Uses and limitations",
        "",
        "The ratings come from a prompted judge model, not from the paper's fine-tuned Llama-3.1-8B (reported "
        "macro-F1 77-81 against experts, where prompted GPT-4o and Claude-3.5-Sonnet reached 42-59). The "
        "paper's definitions of the mechanisms and its annotation guideline could not be read; the prompt "
        "carries working definitions inferred from the mechanism names and level anchors of our own "
        "(`data/taxonomies/communication_mechanisms.yaml`). Measure agreement with expert ratings before relying "
        "on the levels. The paper rated real Chinese counseling; ratings of simulated sessions or of English "
        "dialogue are outside what it studied. Not clinical advice; not for assessing real counselors' "
        "competence without human review.",
        "",
        "## License",
        "",
        f"{meta['license']}. The texts are those of the input corpus; check its license.",
        "",
        "## Citation",
        "",
        f"The rating scheme: {PAPER}",
        "",
        f"Resistance labels: {RECAP}",
        "",
    ]
