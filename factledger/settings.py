"""Named thresholds and defaults, in one place, each with where it came from.

Every run records the values it used (see `Thresholds.as_dict`) in the `runs` table.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["DEFAULT_DB", "USER_AGENT", "Thresholds", "default_db_path"]

USER_AGENT = "FactLedger/0.1 (+https://github.com/factledger/factledger; fact-check research bot)"

DEFAULT_DB = "factledger.duckdb"


def default_db_path() -> Path:
    return Path(os.environ.get("FACTLEDGER_DB") or DEFAULT_DB)


@dataclass(frozen=True, slots=True)
class Thresholds:
    # Rule scorer: a sentence is a claim at or above this score. Chosen by hand on the
    # project's own sample article and the seed article (issue 2); a trained model replaces it.
    checkworthy_min_score: float = 0.45
    # Evidence kept per claim after reranking.
    top_k: int = 5
    # Candidates taken from each retriever (BM25, vector) before fusion.
    retrieve_candidates: int = 30
    # Reciprocal-rank-fusion constant (Cormack et al. 2009 default).
    rrf_k: int = 60
    # Below this cosine a passage is off-topic: never support, never refute.
    # MiniLM cosine of paraphrases sits above 0.6; unrelated sentences below 0.3.
    topical_min_similarity: float = 0.45
    # A supporting passage must be at least this close (and free of conflicts).
    support_min_similarity: float = 0.62
    # Stance probability needed for a passage to count for or against a claim.
    stance_min_prob: float = 0.5

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)
