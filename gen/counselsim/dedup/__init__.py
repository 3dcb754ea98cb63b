"""Near-duplicate and looping-session removal: MinHash + LSH over character shingles, union-find clusters."""
from counselsim.dedup.config import DedupConfig
from counselsim.dedup.shingles import session_text
from counselsim.dedup.stage import LOOPING, NEAR_DUPLICATE, DedupResult, near_duplicate_clusters, plan_dedup

__all__ = [
    "DedupConfig", "DedupResult", "LOOPING", "NEAR_DUPLICATE", "near_duplicate_clusters", "plan_dedup", "session_text",
]
