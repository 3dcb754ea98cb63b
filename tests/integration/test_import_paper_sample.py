"""The paper's Table 1 and Eq. 1 from the paper's own data: the 40 shared Interactive Agents dialogues with their
chief complaints, imported and audited, against an independent computation from the release's JSON files."""
import json

from counselsim.cli import main
from helpers import SAMPLE


def release():
    folder = SAMPLE / "dialogues"
    return [json.loads((folder / f"{n}.json").read_text(encoding="utf-8")) for n in range(40)]


def test_table1_and_vocabulary_overlap_of_the_shared_sample(tmp_path, capsys):
    corpus, report = tmp_path / "ia", tmp_path / "audit"
    assert main(["import", "--format", "interactive-agents", str(SAMPLE / "dialogues"), "--out", str(corpus),
                 "--complaints", str(SAMPLE / "dialogues" / "chief_complaints.json")]) == 0
    assert main(["audit", "--input", str(corpus), "--out", str(report), "--embedding-model", "none"]) == 0
    tables = json.loads((report / "metrics.json").read_text())
    table1 = {row["statistic"]: row["zh"] for row in
              tables["Corpus statistics (SimPsyDial Table 1)"]["Statistics per language"]}

    dialogues = release()
    client = [len(m["content"]) for d in dialogues for m in d if m["role"] == "client"]
    counselor = [len(m["content"]) for d in dialogues for m in d if m["role"] == "counselor"]
    assert table1["# Conversations"] == "40"
    assert table1["# Client Utterances"] == str(len(client))
    assert table1["# Counselor Utterances"] == str(len(counselor))
    assert table1["Avg. Turns per Conversation"] == f"{len(counselor) / 40:.2f}"
    assert table1["Avg. Len. of Client Utterances"] == f"{sum(client) / len(client):.2f}"
    assert table1["Avg. Len. of Counselor Utterances"] == f"{sum(counselor) / len(counselor):.2f}"

    (overlap,) = tables["Client fidelity (SimPsyDial §4.1)"]["Vocabulary overlap rate: true mapping against random mapping"]
    assert overlap["mapped_n"] == 40 and overlap["random_n"] == 40
    assert overlap["mapped_mean"] > overlap["random_mean"] and overlap["p"] < 0.001
    with capsys.disabled():
        print(f"\nshared sample: {table1} overlap mapped {overlap['mapped_mean']:.3f} "
              f"(std {overlap['mapped_std']:.3f}) random {overlap['random_mean']:.3f} "
              f"(std {overlap['random_std']:.3f}) p={overlap['p']:.2g}")
