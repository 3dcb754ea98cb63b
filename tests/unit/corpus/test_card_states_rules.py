from counselsim.config import RefinementConfig
from counselsim.corpus.card import _simpsydial_method
from counselsim.simpsydial import refinement, termination


def test_card_quotes_the_termination_rule_and_sigma_for_each_language():
    config = {"session": {"max_turn_pairs": 6, "min_turn_pairs": 6,
                          "refinement": {"max_attempts": 3, "max_chars_zh": 200, "max_words_en": 90}},
              "role_cards": {"languages": ["en"]}}
    text = "\n".join(_simpsydial_method(config))
    assert termination.describe("en") in text
    assert refinement.describe("en", RefinementConfig(max_attempts=3, max_words_en=90)) in text
    assert "90 words" in text and "(zh)" not in text
    assert "the paper's termination phrases" not in text
