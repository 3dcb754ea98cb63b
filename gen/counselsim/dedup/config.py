"""Settings of the dedup stage (`stages.dedup` in a pipeline config, or flags of `counselsim dedup`)."""
from __future__ import annotations

from pydantic import Field

from counselsim.identity import ConfigSection


class DedupConfig(ConfigSection):
    # Outside the resume identity: dedup runs at the end of every run over all staged records, so a rerun with
    # other settings rebuilds the corpus from the same records.
    OUTSIDE_IDENTITY = ("enabled", "threshold", "num_perm", "ngram", "drop_looping", "loop_similarity",
                        "loop_min_repeats", "loop_min_chars", "examples", "seed")

    enabled: bool = True
    threshold: float = Field(default=0.8, gt=0, le=1, description="estimated Jaccard of near-duplicates")
    num_perm: int = Field(default=128, ge=1, description="MinHash permutations")
    ngram: int = Field(default=5, ge=1, description="characters per shingle")
    drop_looping: bool = Field(default=False, description="remove looping sessions; otherwise only count them")
    loop_similarity: float = Field(default=0.9, gt=0, le=1, description="Jaccard of near-identical utterances")
    loop_min_repeats: int = Field(default=3, ge=2, description="near-identical utterances of one speaker making a loop")
    # Short acknowledgements ("嗯", "Yes.") recur in every real conversation; they are not loops.
    loop_min_chars: int = Field(default=10, ge=1, description="utterances shorter than this are not checked for loops")
    examples: int = Field(default=5, ge=0, description="example pairs and looping sessions named in the report")
    seed: int = Field(default=1, description="seed of the MinHash permutations (datasketch's)")
