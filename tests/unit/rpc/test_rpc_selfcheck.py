"""The labeler self-check: the seven-type reaction labels against the declared types of live-resistant input and
against the injected turns, by hand and against scikit-learn; the PsyFIRE check on the injected turns as before."""
from __future__ import annotations

import math

import pyarrow.parquet as pq
import pytest
from audit_builders import labeled_table, session
from counselsim.rpc.selfcheck import corpus_self_check, self_check
from counselsim.rpc.taxonomy import load_taxonomy
from counselsim.schemas.rpc import COOPERATIVE_REACTIONS, RESISTANT_REACTIONS
from sklearn.metrics import precision_recall_fscore_support

TAX = load_taxonomy()
SEVEN = list(RESISTANT_REACTIONS + COOPERATIVE_REACTIONS)


def client(reaction_label=None, reaction_type=None, source=None, injected=False, label=None):
    binary = None if label is None else "collaboration" if label == "collaboration" else "resistance"
    return {"speaker": "client", "reaction_label": reaction_label,
            "reaction_label_status": "ok" if reaction_label else "unparseable", "reaction_type": reaction_type,
            "reaction_source": source, "injected": injected, "label": label, "label_binary": binary,
            "label_status": "ok" if label else "unparseable"}


def declared(gold, predicted):
    return client(predicted, gold, "declared")


COUNSELOR = {"speaker": "counselor"}
# Declared gold -> reaction label: defensive 3 (2 right, 1 avoidant), avoidant 2 (1 right, 1 unparseable),
# non_resistant 3 (2 right, 1 compliant), facilitative 1 (labeled non_resistant); 9 declared turns.
DECLARED = [declared("defensive", "defensive"), declared("defensive", "defensive"), declared("defensive", "avoidant"),
            declared("avoidant", "avoidant"), declared("avoidant", None),
            declared("non_resistant", "non_resistant"), declared("non_resistant", "non_resistant"),
            declared("non_resistant", "compliant"), declared("facilitative", "non_resistant")]
# Not declared: a plain client turn (its label is no prediction against declared gold) and an injected one.
OTHERS = [client("defensive"), client("defensive", "defensive", "injected", injected=True, label="denying.blaming")]


def sklearn_scores(gold, predicted, labels, average=None, zero_division=math.nan):
    return precision_recall_fscore_support([g or "none" for g in gold], [p or "unparseable" for p in predicted],
                                           labels=labels, average=average, zero_division=zero_division)


def same(ours, theirs):
    return (ours is None and math.isnan(theirs)) or ours == pytest.approx(theirs)


def test_declared_types_score_the_reaction_labels_by_hand():
    report = self_check([COUNSELOR, *DECLARED, COUNSELOR, *OTHERS], TAX)["reaction_label"]
    d = report["declared"]
    assert d["support"] == 9 and d["unparseable"] == 1
    defensive = d["per_type"]["defensive"]
    assert (defensive["tp"], defensive["fp"], defensive["fn"], defensive["support"]) == (2, 0, 1, 3)
    assert defensive["precision"] == 1.0 and defensive["recall"] == pytest.approx(2 / 3)
    assert defensive["f1"] == pytest.approx(0.8)
    avoidant = d["per_type"]["avoidant"]  # one right, one called avoidant that was defensive, one unparseable
    assert (avoidant["tp"], avoidant["fp"], avoidant["fn"]) == (1, 1, 1) and avoidant["f1"] == pytest.approx(0.5)
    compliant = d["per_type"]["compliant"]  # predicted once, never the gold
    assert (compliant["support"], compliant["predicted"], compliant["precision"], compliant["recall"]) == \
        (0, 1, 0.0, None)
    assert d["per_type"]["controlling"] == {"tp": 0, "fp": 0, "fn": 0, "precision": None, "recall": None,
                                            "f1": None, "support": 0, "predicted": 0}
    assert set(d["per_type"]) == set(SEVEN)
    # micro: 5 right of 8 parsed predictions, of 9 gold turns
    assert d["micro"]["precision"] == pytest.approx(5 / 8) and d["micro"]["recall"] == pytest.approx(5 / 9)
    assert d["confusion"] == {"avoidant": {"avoidant": 1, "unparseable": 1},
                              "defensive": {"avoidant": 1, "defensive": 2},
                              "facilitative": {"non_resistant": 1},
                              "non_resistant": {"compliant": 1, "non_resistant": 2}}
    assert report["labeled"] == 10 and report["unparseable"] == 1
    assert report["labels"] == {"avoidant": 2, "compliant": 1, "defensive": 4, "non_resistant": 3}


def test_declared_scores_agree_with_sklearn():
    d = self_check(DECLARED, TAX)["reaction_label"]["declared"]
    gold = [t["reaction_type"] for t in DECLARED]
    predicted = [t["reaction_label"] for t in DECLARED]
    precision, recall, f1, support = sklearn_scores(gold, predicted, SEVEN)
    for k, name in enumerate(SEVEN):
        ours = d["per_type"][name]
        assert ours["support"] == support[k]
        assert same(ours["precision"], precision[k]) and same(ours["recall"], recall[k])
        assert same(ours["f1"], f1[k]) or (ours["f1"] is None and support[k] == 0)
    micro = sklearn_scores(gold, predicted, SEVEN, "micro")
    assert [d["micro"][k] for k in ("precision", "recall", "f1")] == pytest.approx(list(micro[:3]))
    present = [t for t in SEVEN if d["per_type"][t]["support"]]  # macro over the types with gold support
    macro = sklearn_scores(gold, predicted, present, "macro", zero_division=0.0)
    assert [d["macro"][k] for k in ("precision", "recall", "f1")] == pytest.approx(list(macro[:3]))


def test_injected_turns_score_the_reaction_labels_per_resistant_type():
    turns = [client("defensive", "defensive", "injected", injected=True),  # tp defensive
             client(None, "avoidant", "injected", injected=True),  # fn avoidant (unparseable)
             client("emotional", "avoidant", "injected", injected=True),  # fn avoidant, fp emotional
             client("defensive"),  # fp defensive: the input client may resist on its own
             client("non_resistant")]
    injected = self_check(turns, TAX)["reaction_label"]["injected"]
    assert injected["support"] == 3 and injected["unparseable"] == 1 and set(injected["per_type"]) == \
        set(RESISTANT_REACTIONS)
    assert injected["per_type"]["defensive"]["precision"] == 0.5 and injected["per_type"]["defensive"]["recall"] == 1.0
    assert injected["per_type"]["avoidant"]["recall"] == 0.0 and injected["per_type"]["avoidant"]["support"] == 2
    assert injected["confusion"] == {"avoidant": {"emotional": 1, "unparseable": 1}, "defensive": {"defensive": 1}}
    gold = [t["reaction_type"] if t["injected"] else None for t in turns]
    micro = sklearn_scores(gold, [t["reaction_label"] for t in turns], list(RESISTANT_REACTIONS), "micro")
    assert [injected["micro"][k] for k in ("precision", "recall", "f1")] == pytest.approx(list(micro[:3]))
    # No declared turns: nothing to score there.
    declared_report = self_check(turns, TAX)["reaction_label"]["declared"]
    assert declared_report["support"] == 0 and declared_report["micro"]["recall"] is None
    assert declared_report["macro"] == {"precision": None, "recall": None, "f1": None}


def test_the_psyfire_check_on_injected_turns_is_kept():
    turns = [client("defensive", "defensive", "injected", injected=True, label="denying.blaming"),
             client("avoidant", "avoidant", "injected", injected=True, label="collaboration"),
             client("non_resistant", label="arguing.challenging"), client("non_resistant", label="collaboration")]
    report = self_check(turns, TAX)
    assert report["injected_turns"] == 2 and report["client_turns"] == 4
    assert (report["binary"]["tp"], report["binary"]["fp"], report["binary"]["fn"]) == (1, 1, 1)
    assert report["per_type"]["defensive"]["tp"] == 1 and report["per_type"]["controlling"]["fp"] == 1
    assert report["per_type"]["avoidant"]["fn"] == 1
    assert report["type_agreement_on_injected"] == 0.5
    assert report["labels_of_injected"] == {"avoidant": {"collaboration": 1}, "defensive": {"denying.blaming": 1}}


def test_corpus_self_check_reads_the_reaction_fields_from_the_parts(tmp_path):
    s = session("s", [("client", "Hello"), ("counselor", "Why?"), ("client", "No idea."), ("counselor", "Bye.")])
    labels = {("s", 0): {"reaction_label": "non_resistant", "reaction_label_status": "ok", "label_status": "ok",
                         "label_binary": "collaboration", "label": "collaboration"},
              ("s", 2): {"reaction_type": "avoidant", "reaction_source": "declared", "reaction_label": "avoidant",
                         "reaction_label_status": "ok", "label_status": "ok", "label_binary": "resistance",
                         "label": "avoiding.minimum_talk"}}
    pq.write_table(labeled_table([s], labels, {}), tmp_path / "part.parquet")
    report = corpus_self_check([tmp_path / "part.parquet"], TAX)
    declared_report = report["reaction_label"]["declared"]
    assert declared_report["support"] == 1 and declared_report["per_type"]["avoidant"]["f1"] == 1.0
    assert report["episodes"]["sessions"] == 1 and report["client_turns"] == 2
