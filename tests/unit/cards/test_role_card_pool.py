"""The shipped role-card pools (role_cards/<lang>/<split>.jsonl) load, validate and are varied enough to use."""
from __future__ import annotations

import pytest
from counselsim.cards.pool import load_pool
from counselsim.schemas.role_card import Level
from helpers import REPO

ROOT = REPO / "role_cards"
LANGUAGES = ("en", "zh")
SPLITS = ("train", "test")


@pytest.fixture(scope="module")
def pools():
    return {(lang, split): load_pool(ROOT / lang / f"{split}.jsonl") for lang in LANGUAGES for split in SPLITS}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_split_sizes(pools, lang):
    assert len(pools[(lang, "train")]) >= 60
    assert len(pools[(lang, "test")]) > 0


def test_ids_unique_across_all_pools(pools):
    ids = [card.id for cards in pools.values() for card in cards]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_train_and_test_disjoint(pools, lang):
    train = {card.id for card in pools[(lang, "train")]}
    test = {card.id for card in pools[(lang, "test")]}
    assert not train & test


def test_language_matches_folder(pools):
    for (lang, split), cards in pools.items():
        wrong = [card.id for card in cards if card.language != lang]
        assert not wrong, f"{lang}/{split}.jsonl has cards in another language: {wrong}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_all_resistance_levels_present(pools, lang):
    levels = {card.resistance.level for split in SPLITS for card in pools[(lang, split)]}
    assert levels == set(Level)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_topic_variety(pools, lang):
    topics = {card.topic for split in SPLITS for card in pools[(lang, split)] if card.topic}
    assert len(topics) >= 15


def test_no_duplicate_chief_complaints(pools):
    seen: dict[str, str] = {}
    for cards in pools.values():
        for card in cards:
            key = " ".join(card.chief_complaint.split())
            assert key not in seen, f"{card.id} repeats the chief complaint of {seen[key]}"
            seen[key] = card.id
