"""Named thresholds, limits and defaults, in one place, each with where it came from.

Every run records the values it used (see `Thresholds.as_dict`, `Limits.as_dict`) in the `runs` table.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from factledger.errors import ConfigError, LimitError

__all__ = ["DEFAULT_DB", "PROVIDERS", "USER_AGENT", "Limits", "Thresholds", "default_db_path", "factledger_home"]

USER_AGENT = "FactLedger/0.1 (+https://github.com/factledger/factledger; fact-check research bot)"

DEFAULT_DB = "factledger.duckdb"


# Source providers by name (see README, "Providers").
PROVIDERS = ("corpus", "wikipedia", "factchecks", "gdelt", "searxng", "urls")


def default_db_path() -> Path:
    return Path(os.environ.get("FACTLEDGER_DB") or DEFAULT_DB)


def factledger_home() -> Path:
    """Where the model and HTTP caches live: $FACTLEDGER_HOME, else ~/.factledger."""
    return Path(os.environ.get("FACTLEDGER_HOME", Path.home() / ".factledger"))


@dataclass(frozen=True, slots=True)
class Limits:
    """What one run accepts at most (or at least). Input over a limit is refused with a one-line
    error naming the limit and how to change it; nothing is cut without a word. Each limit can be
    set in the environment (`FACTLEDGER_<NAME>`, e.g. FACTLEDGER_MAX_ARTICLE_MB=5) and some on the
    command line; a run records the values it used (`runs.params`, "limits")."""

    # Largest article text checked, in MB (10^6 bytes) of UTF-8 text after extraction (`check
    # --max-article-mb`). Measured: the largest main text among the 1,171 pages of aeb-scrapinghub
    # and trafilatura-eval (../shared/data) is 96 KB (99th percentile 12 KB); a 5 MB article gave
    # 41,377 claims and ran past 10 minutes (issue 23). 2 MB is twenty times the largest real page.
    max_article_mb: float = 2.0
    # Claims verified per article when `--max-claims` is not given: the most check-worthy first,
    # and a warning names how many were left. Chosen, not tuned: verifying a claim took 0.1-0.3 s on
    # the 2-core reference machine (flows/runners.py), so 100 claims stay within about half a minute.
    max_claims_per_article: int = 100
    # Shortest claim `check-claim` accepts, in characters (spaces at the ends not counted). The
    # shortest checkable English claims are about this long ("Ice melts.", "Oslo is big."); a
    # one-character claim used to be accepted and "verified".
    min_claim_chars: int = 10

    @classmethod
    def from_env(cls, **overrides: float | int | None) -> Limits:
        """The defaults, then $FACTLEDGER_<NAME> for each, then the `overrides` that are not None
        (command-line options). A value that is not a positive number is a ConfigError."""
        values: dict[str, float | int] = {}
        for f in fields(cls):
            env = f"FACTLEDGER_{f.name.upper()}"
            raw = os.environ.get(env)
            if raw not in (None, ""):
                values[f.name] = _positive(f.type, raw, env)
        limits = replace(cls(), **values)
        given = {k: v for k, v in overrides.items() if v is not None}
        for name, value in given.items():
            if not value > 0:
                raise ConfigError(f"{name.replace('_', '-')} must be positive: {value}")
        return replace(limits, **given)

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def check_article_text(self, text: str, ref: str) -> None:
        """Refuse an article whose text is over `max_article_mb` (LimitError, reason article_too_large)."""
        size = len(text.encode("utf-8"))
        if size > self.max_article_mb * 1_000_000:
            raise LimitError(
                f"article text too large ({size / 1_000_000:.3g} MB, limit {self.max_article_mb:g} MB; "
                f"--max-article-mb or FACTLEDGER_MAX_ARTICLE_MB): {ref}", reason="article_too_large")

    def check_claim_text(self, text: str, *, label: str = "claim", source: str | None = None) -> None:
        """Refuse a claim shorter than `min_claim_chars` (LimitError, reason claim_too_short); the
        message names `source` (the file it came from) or else the claim itself."""
        n = len(text.strip())
        if n < self.min_claim_chars:
            raise LimitError(f"{label} too short ({n} character{'' if n == 1 else 's'}, at least {self.min_claim_chars}; "
                             f"FACTLEDGER_MIN_CLAIM_CHARS): {source or repr(text.strip())}", reason="claim_too_short")


def _positive(kind: object, raw: str, name: str) -> float | int:
    try:
        value = int(raw) if kind in (int, "int") else float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a positive number: {raw}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be a positive number: {raw}")
    return value


@dataclass(frozen=True, slots=True)
class Thresholds:
    # A sentence is a claim at or above this check-worthiness score. Chosen for the trained model
    # (models/checkworthiness, `factledger train checkworthiness`): max F1 of the check-worthy class
    # on the seeded ClaimBuster dev split (meta.json "threshold"). The rule scorer's hand-set value was 0.45.
    checkworthy_min_score: float = 0.42
    # Evidence kept per claim after reranking.
    top_k: int = 5
    # Reranking of the pool (the 2 x top_k best by fused BM25 + embedding rank): fused score plus this
    # weight x the stance model's probability that the passage is not neutral. Measured on the
    # CLIMATE-FEVER dev half (767 claims; never the test half) by bench/climate_diagnostics.py,
    # evidence recall@5: 0.612 with 0 (fused rank alone), 0.610 at 0.002 and 0.005, 0.599 at 0.01.
    # 0.005 was chosen before ties were broken by passage id (then 0.612 against 0.601 at 0); after
    # it the two differ by one claim, and 0.005 is kept so that the stance model settles near-ties.
    # With BM25 over title + text (migration 007): 0.6271 at 0 and 0.002, 0.6252 at 0.005, 0.6064 at
    # 0.01 (again one claim apart; on the test half the kept top 5 reach 0.6358, fused rank alone 0.6226).
    # A fused score is 1/(rrf_k + rank) per ranking. (The earlier rule, similarity + the strongest
    # stance probability, ranked gold evidence lower.)
    stance_rerank_weight: float = 0.005
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
    # A support and a refutation both at least this probable, from different independent sources,
    # make the verdict `conflicting`; below it the stronger side wins. Set equal to
    # stance_min_prob (0.5 = more likely than not after temperature calibration, see
    # models/stance/meta.json); not tuned (CLIMATE-FEVER "disputed" is too rare to fit it on).
    conflict_min_prob: float = 0.5
    # Passages whose MiniLM embeddings are at least this close count as one source (reprints,
    # syndicated copies). Paraphrases by different writers sit around 0.7-0.9 with MiniLM; 0.95
    # keeps only near-verbatim copies together.
    near_duplicate_cosine: float = 0.95
    # Verdicts with a calibrated confidence below this get needs_review = true. Chosen from the
    # reliability bins of bench/verdicts.py (stance-minilm-v1+46f7c947502a, FEVER-Symmetric test):
    # the 195 of 712 claims below 0.7 were right 52% of the time, those at or above it 69%.
    # Kept for stance-minilm-v2 without re-choosing it.
    review_below_confidence: float = 0.7

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)
