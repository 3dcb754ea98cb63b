"""The audit report end to end: the command writes Markdown, self-contained HTML, figures and metrics.json."""
import argparse
import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from audit_builders import card, labeled_table, session, write_corpus
from counselsim.audit.frames import load_frames
from counselsim.audit.report import build_report, write_report
from counselsim.commands import audit as audit_command
from counselsim.errors import InputError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class HashEmbedder:
    """A stand-in for a sentence model: a deterministic vector per text."""

    name = "hash"

    def encode(self, texts):
        return np.array([[len(t) + 1, sum(map(ord, t)) % 97 + 1, t.count(" ") + 1] for t in texts], dtype=float)


def sessions():
    complaints = ["I cannot sleep since my exam failed.", "My boss yells at me every day.",
                  "My dog died and I feel alone.", "I fight with my sister about money."]
    out = [session(f"en{i}", [("client", "Hello"), ("counselor", "Hi, what brings you here?"),
                               ("client", " ".join(complaints[i].split()[:3 + i])),
                               ("counselor", "Take care.", 1 + i % 2)],
                   role_card=card(f"c{i}", complaint=complaints[i]), termination="farewell" if i else "turn_cap")
           for i in range(4)]
    zh_turns = [("client", "你好"), ("counselor", "你好，说说吧"), ("client", "我睡不着"), ("counselor", "再见")]
    out.append(session("zh0", zh_turns, role_card=card("z0", "zh", "我考试失败以后一直睡不着觉。"), language="zh"))
    return out


MANIFEST = {"record_type": "session", "counts": {"attempted": 7, "written": 5, "dropped": 2},
            "drops": {"too_short": 2}, "dedup": {"removed": 0, "threshold": 0.8}, "versions": {"counselsim": "0.1.0"}}


class PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.images, self.links, self.headings, self._in_h2 = [], [], [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.images.append(attrs["src"])
        self.links += [attrs[a] for a in ("href",) if a in attrs]
        self._in_h2 = tag == "h2"

    def handle_data(self, data):
        if self._in_h2:
            self.headings.append(data)
            self._in_h2 = False


def run_audit(corpus: Path, out: Path, *extra: str) -> int:
    parser = argparse.ArgumentParser()
    audit_command.register(parser.add_subparsers())
    args = parser.parse_args(["audit", "--input", str(corpus), "--out", str(out), *extra])
    return args.handler(args)


@pytest.fixture()
def corpus(tmp_path):
    write_corpus(str(tmp_path / "corpus"), sessions(), MANIFEST)
    return tmp_path / "corpus"


def test_report_renders_and_is_self_contained(corpus, tmp_path):
    frames = load_frames(str(corpus))
    report = build_report(frames, json.loads((corpus / "manifest.json").read_text()), HashEmbedder(), 0, "corpus")
    out = tmp_path / "report"
    write_report(report, str(out))

    page = PageParser()
    page.feed((out / "report.html").read_text(encoding="utf-8"))
    page.close()
    assert page.tags[0] == "html" and "table" in page.tags
    assert not {"script", "link", "iframe"} & set(page.tags) and not page.links
    assert page.images and len(page.images) == len(report.figures())
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_SIGNATURE)
    assert page.headings == ["Overview", "Corpus statistics (SimPsyDial Table 1)", "Distributions",
                             "Termination and regeneration", "Run counts and drop reasons",
                             "Client fidelity (SimPsyDial §4.1)", "Deduplication"]

    markdown = (out / "report.md").read_text(encoding="utf-8")
    for figure in report.figures():
        assert f"(figures/{figure.name}.png)" in markdown
        assert (out / "figures" / f"{figure.name}.png").read_bytes() == figure.png
    assert "| # Conversations | 4 | 1 |" in markdown
    assert "Semantic consistency (Eq. 2) = cos(e(R), e(S)), embeddings by hash." in markdown

    metrics = json.loads((out / "metrics.json").read_text())
    counts = metrics["Run counts and drop reasons"]["Sessions of the run"]
    assert counts == [{"attempted": 7, "written": 5, "dropped": 2, "yield": 5 / 7}]
    fidelity = metrics["Client fidelity (SimPsyDial §4.1)"]
    assert fidelity["Vocabulary overlap rate: true mapping against random mapping"][0]["mapped_n"] == 4
    assert "Semantic consistency: true mapping against random mapping" in fidelity


def test_command_without_manifest_or_embeddings(tmp_path):
    write_corpus(str(tmp_path / "corpus"), sessions())
    assert run_audit(tmp_path / "corpus", tmp_path / "report", "--embedding-model", "none") == 0
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "No manifest.json was found" in markdown
    assert "Not available: the corpus has no manifest.json." in markdown
    assert "Semantic consistency (Eq. 2) was not computed" in markdown
    assert "## Deduplication" not in markdown and "## Labels" not in markdown


def test_labeled_corpus_gets_a_labels_section(tmp_path):
    resist = {"label_binary": "resistance", "label": "denying.blaming", "label_group": "denying",
              "label_status": "ok", "injected": True, "reaction_type": "defensive", "regenerated": True}
    collaborate = {"label_binary": "collaboration", "label": "collaboration", "label_group": "collaboration",
                   "label_status": "ok"}
    table = labeled_table(sessions(), {("en0", 2): resist, ("en1", 2): collaborate, ("en2", 2): collaborate},
                          {"en0": {"turn_indices": [2], "reaction_type": "defensive"}})
    write_corpus(str(tmp_path / "corpus"), table, {"record_type": "rpc_session", "counts": {}})
    frames = load_frames(str(tmp_path / "corpus"))
    assert frames.record_type == "rpc_session"
    report = build_report(frames, None, None, 0, "corpus")
    write_report(report, str(tmp_path / "report"))
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())["Labels"]
    assert metrics["Client cooperation rate"][-1]["rate"] == pytest.approx(2 / 3)
    assert metrics["Counselor turns followed by resistance"][-1]["rate"] == pytest.approx(1 / 3)
    assert metrics["Resistance episodes"][-1]["with_episode"] == 1
    assert metrics["Labels of injected turns"][-1]["recall"] == 1.0
    assert metrics["Fine-grained labels of injected turns by injected reaction type"] == [
        {"reaction_type": "defensive", "denying.blaming": 1}]


def test_other_records_are_refused(tmp_path):
    import pyarrow as pa
    from counselsim.corpus import storage

    table = pa.table({"id": ["x"]}).replace_schema_metadata({"counselsim.record": "role_card"})
    storage.write_parquet(table, str(tmp_path / "data" / "shard-00000.parquet"))
    with pytest.raises(InputError, match="found 'role_card'"):
        load_frames(str(tmp_path))
