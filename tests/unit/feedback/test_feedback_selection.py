"""Which counselor replies get feedback, and the judge's prompt for one of them."""
from __future__ import annotations

from counselsim.feedback import prompts
from counselsim.feedback.selection import replies_after_client, select


def _turn(i: int, speaker: str, text: str, label: str | None = None, status: str | None = None) -> dict:
    binary = None if label is None else ("collaboration" if label == "collaboration" else "resistance")
    if label == "resistance":
        label = None  # binary known, fine-grained label unparseable
    return {"index": i, "speaker": speaker, "text": text, "label_binary": binary, "label": label,
            "label_status": status}


ROWS = [
    _turn(0, "client", "Hello", "collaboration", "ok"),
    _turn(1, "counselor", "What brings you here?"),
    _turn(2, "client", "It's my husband who needs to change.", "denying.blaming", "ok"),
    _turn(3, "counselor", "You feel he is the one who should change."),
    _turn(4, "client", "Okay...", "resistance", "unparseable"),
    _turn(5, "counselor", "It is hard to say more right now."),
    _turn(6, "client", "whatever", None, "unparseable"),
    _turn(7, "counselor", "We can go slowly."),
    _turn(8, "client", "Thanks, bye.", "collaboration", "ok"),
]


def test_replies_after_client_turns():
    assert replies_after_client(ROWS) == [1, 3, 5, 7]
    # a counselor turn after a counselor turn (or at the start) follows no client turn
    rows = [{"speaker": "counselor"}, {"speaker": "counselor"}, {"speaker": "client"}, {"speaker": "counselor"}]
    assert replies_after_client(rows) == [3]


def test_corpus_labels_select_replies_after_resistance_only():
    sel = select(ROWS, corpus_labels=True)
    assert [(c.turn, c.label, c.needs_label) for c in sel.candidates] == [(3, "denying.blaming", False),
                                                                          (5, None, False)]
    assert sel.counts.fields() == {"sessions": 1, "replies_after_client": 4, "after_resistance": 2,
                                   "after_collaboration": 1, "after_unlabeled": 1, "to_label": 0}


def test_without_corpus_labels_every_reply_after_a_client_turn_is_labeled_first():
    sel = select(ROWS, corpus_labels=False)
    assert [(c.turn, c.needs_label) for c in sel.candidates] == [(1, True), (3, True), (5, True), (7, True)]
    assert sel.counts.to_label == 4 and sel.counts.after_resistance == 0


def test_counts_add_up_over_sessions():
    total = select(ROWS, True).counts
    total.add(select(ROWS, True).counts)
    assert total.sessions == 2 and total.after_resistance == 4


def test_the_prompt_holds_mechanisms_levels_context_and_the_rated_reply():
    messages = prompts.messages("en", ROWS, 3, prompts.resistance_text("en", "Denying - Blaming", True), 2, 400)
    system, user = messages[0]["content"], messages[1]["content"]
    for name in ("Respect for Autonomy", "Stance Alignment", "Emotional Resonance", "Conversational Orientation",
                 "No Expression", "Weak Expression", "Strong Expression", '"explanation"'):
        assert name in system
    assert "Client: Hello" in user and "Counselor: What brings you here?" in user
    assert "Client Response: It's my husband who needs to change." in user
    assert "Client Resistance: Denying - Blaming" in user
    assert user.endswith("Counselor Reply: You feel he is the one who should change.")


def test_the_label_can_be_hidden_and_a_missing_label_is_said_so():
    assert prompts.resistance_text("en", "Denying - Blaming", False) == "Resistance"
    assert "not identified" in prompts.resistance_text("en", None, True)
    zh = prompts.messages("zh", ROWS, 1, prompts.resistance_text("zh", None, True), 8, 400)
    assert "尊重自主" in zh[0]["content"] and "会谈从这句来访者回应开始" in zh[1]["content"]
