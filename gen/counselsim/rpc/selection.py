"""Which input sessions an rpc run transforms (`stages.rpc.selection`), balanced across the role cards' topics.

Sessions are grouped by their card's topic (cards/stats.NO_TOPIC for none); within a topic they are shuffled by
the run seed and at most `per_topic` are taken; the topics are then interleaved round-robin (in sorted order) up
to `max_sessions`. The same corpus and seed select the same sessions, so a resumed run plans the same items.
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from counselsim.cards.stats import NO_TOPIC
from counselsim.rpc.settings import SelectionSettings
from counselsim.schemas import Session
from counselsim.seeds import derive_seed


def topic_of(session: Session) -> str:
    return session.role_card.topic or NO_TOPIC


@dataclass
class Selection:
    keys: list[str]  # the selected session ids, topics interleaved
    input_topics: dict[str, int] = field(default_factory=dict)
    selected_topics: dict[str, int] = field(default_factory=dict)

    def report(self, settings: SelectionSettings) -> dict[str, object]:
        return {"per_topic": settings.per_topic, "max_sessions": settings.max_sessions,
                "input_sessions": sum(self.input_topics.values()), "selected_sessions": len(self.keys),
                "input_topics": self.input_topics, "selected_topics": self.selected_topics}


def select(entries: Iterable[tuple[str, str]], settings: SelectionSettings, seed: int) -> Selection:
    """`entries`: (session id, topic) of every input session."""
    by_topic: dict[str, list[str]] = {}
    for key, topic in entries:
        by_topic.setdefault(topic, []).append(key)
    queues = []
    for topic in sorted(by_topic):
        keys = sorted(by_topic[topic])  # the input's order does not matter, only its content
        random.Random(derive_seed(seed, "rpc-select", topic)).shuffle(keys)
        queues.append((topic, keys if settings.per_topic is None else keys[:settings.per_topic]))
    chosen: list[tuple[str, str]] = []
    limit = settings.max_sessions
    for rank in range(max((len(q) for _, q in queues), default=0)):
        for topic, keys in queues:
            if rank < len(keys) and (limit is None or len(chosen) < limit):
                chosen.append((topic, keys[rank]))
    counts = Counter(topic for topic, _ in chosen)
    return Selection([key for _, key in chosen], {t: len(k) for t, k in sorted(by_topic.items())},
                     {t: counts[t] for t in sorted(counts)})
