"""Quality audit of a corpus: statistics, client fidelity and label metrics computed with polars, rendered as a
Markdown and a self-contained HTML report.

    frames.py      corpus shards -> a session frame and a turn frame
    metrics.py     SimPsyDial Table 1, distributions, termination, regeneration
    run_counts.py  counts, drop reasons and dedup report from the manifest
    fidelity.py    vocabulary overlap (Eq. 1) and semantic consistency (Eq. 2) against a random-mapping control
    embeddings.py  the pluggable text embedder
    labels.py      metrics of labeled (resistance) corpora
    plots.py       matplotlib figures as PNG bytes
    document.py    report blocks and their Markdown / HTML rendering
    report.py      builds the report of one corpus and writes it
    wai.py         working alliance (WAI-O-S) scored by an LLM judge through the engine pool (`audit --wai`)
    wai_items.yaml its 12 items, factors and per-item guidelines (prompt: prompts/en/wai.txt)
"""
