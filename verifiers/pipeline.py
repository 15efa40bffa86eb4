"""Claims in, `ClaimResult`s out: retrieve, fuse, score stance, keep top-k, decide."""

from __future__ import annotations

import logging
from typing import Callable, Sequence

import numpy as np

from factledger.records import Claim, ClaimResult, Evidence, Passage, Source
from factledger.settings import Thresholds
from verifiers.embed import Embedder
from verifiers.providers import Provider
from verifiers.stance import StanceModel
from verifiers.textfeatures import content_stems
from verifiers.verdict import decide

__all__ = ["Verifier"]

log = logging.getLogger(__name__)


def _rrf(ranked: Sequence[str], k: int) -> dict[str, float]:
    return {pid: 1.0 / (k + i + 1) for i, pid in enumerate(ranked)}


def _with_title(p: Passage, sources: dict[str, Source]) -> str:
    """Passage text prefixed with its page title, as FEVER-style verifiers do (context for "it")."""
    title = sources[p.source_id].title if p.source_id in sources else None
    return f"{title}: {p.text}" if title and title.lower() not in p.text.lower() else p.text


class Verifier:
    """Hybrid retrieval (lexical + embedding, fused by reciprocal rank) and a stance step."""

    def __init__(self, providers: Sequence[Provider], embedder: Embedder, stance: StanceModel, thresholds: Thresholds,
                 *, before: str | None = None):
        self.providers = list(providers)
        self.embedder = embedder
        self.stance = stance
        self.t = thresholds
        self.before = before  # ISO date: ignore sources published after it (undated sources are kept)

    def check(self, claims: Sequence[Claim], progress: Callable[[int, int, Claim], None] | None = None) -> list[ClaimResult]:
        if not claims:
            return []
        qvecs = self.embedder.encode([c.text for c in claims])
        results = []
        for i, (claim, qvec) in enumerate(zip(claims, qvecs, strict=True), start=1):
            if progress:
                progress(i, len(claims), claim)
            results.append(self._check_one(claim, qvec))
        return results

    def _check_one(self, claim: Claim, qvec: np.ndarray) -> ClaimResult:
        sources: dict[str, Source] = {}
        passages: dict[str, Passage] = {}
        lexical: dict[str, float] = {}
        fact_checks = []
        for provider in self.providers:
            found = provider.search(claim, qvec)
            fact_checks.extend(found.fact_checks)
            for s in found.sources:
                sources[s.source_id] = s
            for p in found.passages:
                published = sources[p.source_id].published if p.source_id in sources else None
                if self.before and published and published[:10] > self.before:
                    continue
                passages.setdefault(p.passage_id, p)
            lexical.update(found.lexical)
        need = [p for p in passages.values() if p.embedding is None]
        if need:
            vecs = self.embedder.encode([p.text for p in need])
            for p, v in zip(need, vecs, strict=True):
                passages[p.passage_id] = Passage(p.source_id, p.text, p.start, p.end, tuple(float(x) for x in v))
        evidence: list[Evidence] = []
        if passages:
            ids = list(passages)
            mat = np.asarray([passages[i].embedding for i in ids], dtype=np.float32)
            sims = dict(zip(ids, (mat @ qvec).tolist(), strict=True))
            c_stems = content_stems(claim.text)
            for pid in ids:  # web passages carry no BM25 score: use term overlap
                if pid not in lexical:
                    lexical[pid] = len(c_stems & content_stems(passages[pid].text)) / max(1, len(c_stems))
            fused: dict[str, float] = {}
            for ranking in (sorted(ids, key=lambda i: -sims[i]), sorted(ids, key=lambda i: -lexical[i])):
                for pid, score in _rrf(ranking, self.t.rrf_k).items():
                    fused[pid] = fused.get(pid, 0.0) + score
            pool = sorted(ids, key=lambda i: -fused[i])[: max(2 * self.t.top_k, 10)]
            stances = self.stance.predict(claim.text, [_with_title(passages[i], sources) for i in pool])
            scored = sorted(
                zip(pool, stances, strict=True),
                key=lambda pair: -(sims[pair[0]] + max(pair[1].support, pair[1].refute)),
            )[: self.t.top_k]
            for rank, (pid, st) in enumerate(scored, start=1):
                p = passages[pid]
                evidence.append(Evidence(claim.claim_id, p, sources[p.source_id], rank,
                                         round(sims[pid], 6), round(lexical[pid], 6), st))
        kept_passages = tuple(e.passage for e in evidence)
        verdict = decide(claim.claim_id, evidence, self.t)
        fact_checks.sort(key=lambda f: -f.similarity)
        return ClaimResult(claim, tuple(sources.values()), kept_passages, tuple(evidence), verdict, tuple(fact_checks))
