"""From scored evidence to a verdict with a calibrated confidence and a review flag."""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from factledger.records import Evidence, Label, Verdict
from factledger.settings import Thresholds

__all__ = ["decide", "independent_groups"]


def _norm_text(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def independent_groups(evidence: Sequence[Evidence], near_duplicate_cosine: float) -> list[int]:
    """A group number per evidence item; items of one group are one independent source.

    Same group: the same page text (source text hash, else source id), the same normalised
    passage text, or passage embeddings at least `near_duplicate_cosine` apart (reprints,
    syndicated copies, mirrored pages).
    """
    n = len(evidence)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    first: dict[tuple[str, str], int] = {}
    for i, e in enumerate(evidence):
        for key in (("src", e.source.text_sha256 or e.passage.source_id), ("txt", _norm_text(e.passage.text))):
            if key[1] and key in first:
                union(i, first[key])
            else:
                first.setdefault(key, i)
    vecs = [(i, np.asarray(e.passage.embedding, dtype=np.float32)) for i, e in enumerate(evidence)
            if e.passage.embedding is not None]
    if len(vecs) > 1:
        idx = [i for i, _ in vecs]
        mat = np.stack([v / max(float(np.linalg.norm(v)), 1e-12) for _, v in vecs])
        sims = mat @ mat.T
        for a in range(len(idx)):
            for b in range(a + 1, len(idx)):
                if sims[a, b] >= near_duplicate_cosine:
                    union(idx[a], idx[b])
    return [find(i) for i in range(n)]


def decide(claim_id: str, evidence: Sequence[Evidence], t: Thresholds) -> Verdict:
    """Aggregate stance over the kept evidence, each independent source counted once.

    A passage can support only when it is close to the claim (`support_min_similarity`) and
    refute only when it is on topic (`topical_min_similarity`); similarity alone never supports.
    Near-duplicate passages (same page text, same normalised text, or embeddings at least
    `near_duplicate_cosine` apart) are one source. `conflicting` needs a strong support and a
    strong refutation from different sources, the refuting passage as close to the claim as a
    supporting one must be; otherwise (and within one source) the stronger side wins. The
    confidence is the calibrated stance probability of the winning side (or 1 - the strongest
    stance for not_enough_evidence), and `needs_review` is set below `review_below_confidence`.
    """
    groups = independent_groups(evidence, t.near_duplicate_cosine)
    support: dict[int, float] = {}
    refute: dict[int, float] = {}
    refute_close: dict[int, float] = {}  # refutations from passages as close as a support must be
    for g, e in zip(groups, evidence, strict=True):
        if e.similarity >= t.support_min_similarity:
            support[g] = max(support.get(g, 0.0), e.stance.support)
            refute_close[g] = max(refute_close.get(g, 0.0), e.stance.refute)
        if e.similarity >= t.topical_min_similarity:
            refute[g] = max(refute.get(g, 0.0), e.stance.refute)
    sides: dict[int, tuple[str, float]] = {}  # each source on one side: its stronger one
    for g in set(support) | set(refute):
        s, r = support.get(g, 0.0), refute.get(g, 0.0)
        if max(s, r) >= t.stance_min_prob:
            sides[g] = ("support", s) if s >= r else ("refute", r)
    s_probs = [p for side, p in sides.values() if side == "support"]
    r_probs = [p for side, p in sides.values() if side == "refute"]
    best_s, best_r = max(s_probs, default=0.0), max(r_probs, default=0.0)
    n_s, n_r = len(s_probs), len(r_probs)
    strong = t.conflict_min_prob
    # A conflict needs the refuting source to be about the claim as closely as a supporting one:
    # a merely on-topic passage about another event (NLI reads it as a contradiction) does not
    # outweigh a close supporting passage.
    close_r = max((refute_close.get(g, 0.0) for g, (side, _) in sides.items() if side == "refute"), default=0.0)
    if best_s >= strong and close_r >= strong:
        label, conf = Label.CONFLICTING, min(best_s, best_r)
        why = f"{n_s} source(s) support and {n_r} refute (independent sources)"
    elif n_s and (not n_r or best_s >= best_r):
        label, conf = Label.SUPPORTED, best_s
        why = f"{n_s} source(s) support" + (f", {n_r} weakly refute" if n_r else ", none refute")
    elif n_r:
        label, conf = Label.REFUTED, best_r
        why = f"{n_r} source(s) refute" + (f", {n_s} weakly support" if n_s else ", none support")
    else:
        best_any = max([*support.values(), *refute.values()], default=0.0)
        label, conf = Label.NOT_ENOUGH_EVIDENCE, 1.0 - best_any
        why = f"no passage supports or refutes it ({len(evidence)} examined, {len(set(groups))} independent)"
    conf = round(float(conf), 4)
    return Verdict(claim_id=claim_id, label=label, confidence=conf, rationale=why,
                   needs_review=conf < t.review_below_confidence)
