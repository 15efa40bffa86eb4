"""From scored evidence to a verdict with a confidence."""

from __future__ import annotations

from typing import Sequence

from factledger.records import Evidence, Label, Verdict
from factledger.settings import Thresholds

__all__ = ["decide"]


def decide(claim_id: str, evidence: Sequence[Evidence], t: Thresholds) -> Verdict:
    """Aggregate stance over the kept evidence, each source counted once.

    A passage can support only when it is close to the claim (`support_min_similarity`) and
    refute only when it is on topic (`topical_min_similarity`); similarity alone never supports.
    """
    support: dict[str, float] = {}
    refute: dict[str, float] = {}
    for e in evidence:
        key = e.source.text_sha256 or e.passage.source_id
        if e.similarity >= t.support_min_similarity:
            support[key] = max(support.get(key, 0.0), e.stance.support)
        if e.similarity >= t.topical_min_similarity:
            refute[key] = max(refute.get(key, 0.0), e.stance.refute)
    best_s = max(support.values(), default=0.0)
    best_r = max(refute.values(), default=0.0)
    n_s = sum(1 for v in support.values() if v >= t.stance_min_prob)
    n_r = sum(1 for v in refute.values() if v >= t.stance_min_prob)
    if n_s and n_r:
        label, conf = Label.CONFLICTING, min(best_s, best_r)
        why = f"{n_s} source(s) support and {n_r} refute"
    elif n_s:
        label, conf, why = Label.SUPPORTED, best_s, f"{n_s} source(s) support, none refute"
    elif n_r:
        label, conf, why = Label.REFUTED, best_r, f"{n_r} source(s) refute, none support"
    else:
        label, conf = Label.NOT_ENOUGH_EVIDENCE, 1.0 - max(best_s, best_r)
        why = f"no passage supports or refutes it ({len(evidence)} examined)"
    return Verdict(claim_id=claim_id, label=label, confidence=round(float(conf), 4), rationale=why)
