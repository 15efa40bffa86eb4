"""Claims in, `ClaimResult`s out: retrieve, fuse, score stance, keep top-k, decide."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from factledger.records import Claim, ClaimResult, Evidence, Passage, Source, StanceScores, sha256_text
from factledger.settings import Thresholds
from factledger.timing import Stages
from verifiers.cache import predict_pairs
from verifiers.embed import Embedder
from verifiers.evidence import joint_premise, normalize_quantities, premise, shares_subject
from verifiers.providers import Candidates, Provider
from verifiers.reader import CrossEncoderReader, read_claims
from verifiers.stance import StanceModel
from verifiers.textfeatures import content_stems
from verifiers.verdict import Aggregator, decide, decide_fitted, joint_items

__all__ = ["Verifier", "joint_stances"]

log = logging.getLogger(__name__)


@dataclass
class _Found:
    """What the providers returned for one claim (mutable while the claim is being checked)."""

    sources: dict[str, Source] = field(default_factory=dict)
    passages: dict[str, Passage] = field(default_factory=dict)
    lexical: dict[str, float] = field(default_factory=dict)
    fact_checks: list = field(default_factory=list)


class ResultCache(Protocol):
    def results(self, verifier: str, claim_shas: Sequence[str]) -> dict[str, ClaimResult]: ...

    def put_results(self, verifier: str, items: dict[str, ClaimResult]) -> None: ...


@cache
def _code_revision() -> str:
    """sha256 of the code a result depends on (this package, the records, settings and the
    corpus queries): changed verdict rules never read results cached by old ones."""
    root = Path(__file__).resolve().parents[1]
    files = [*sorted((root / "verifiers").glob("*.py")), root / "factledger" / "records.py",
             root / "factledger" / "settings.py", *sorted((root / "warehouse" / "sql" / "queries").glob("corpus_*.sql")),
             root / "warehouse" / "sql" / "queries" / "passages_by_id.sql"]
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def _claim_sha(claim: Claim) -> str:
    return sha256_text(f"{claim.claim_id}\0{claim.text}\0{claim.context_date or ''}")


def _rrf(ranked: Sequence[str], k: int) -> dict[str, float]:
    return {pid: 1.0 / (k + i + 1) for i, pid in enumerate(ranked)}


def _title(p: Passage, sources: dict[str, Source]) -> str | None:
    return sources[p.source_id].title if p.source_id in sources else None


def _stance_input(p: Passage, sources: dict[str, Source]) -> str:
    """What the stance model reads of a passage: its window (the passage with its neighbours) with
    the page title in front, quantities normalised (verifiers.evidence)."""
    return premise(_title(p, sources), p.context or p.text)


def joint_stances(stance: StanceModel, claims: Sequence[Claim], kept: Sequence[Sequence[Evidence]],
                  t: Thresholds) -> list[StanceScores | None]:
    """Each claim against its strongest relevant passages read together (`joint_items`), each
    passage's window with its title, in one stance call for all claims; None for a claim with no
    relevant passage. (Reading the passages' sentences alone instead of their windows was measured
    on the shipped example: three true claims refuted instead of two.)"""
    sets = [joint_items(ev, t) for ev in kept]
    todo = [i for i, items in enumerate(sets) if items]
    scores = predict_pairs(stance, [
        (normalize_quantities(claims[i].text),
         joint_premise((e.source.title, e.passage.context or e.passage.text) for e in sets[i]))
        for i in todo])
    out: list[StanceScores | None] = [None] * len(claims)
    for i, sc in zip(todo, scores, strict=True):
        out[i] = sc
    return out


class Verifier:
    """Hybrid retrieval (lexical + embedding, fused by reciprocal rank) and a stance step."""

    def __init__(self, providers: Sequence[Provider], embedder: Embedder, stance: StanceModel, thresholds: Thresholds,
                 *, before: str | None = None, cache: ResultCache | None = None,
                 aggregator: Aggregator | None = None, reader: CrossEncoderReader | None = None):
        self.providers = list(providers)
        self.embedder = embedder
        self.stance = stance
        self.t = thresholds
        self.before = before  # ISO date: ignore sources published after it (undated sources are kept)
        self.cache = cache  # whole results, reused only while every provider's sources are unchanged
        self.reused = 0  # claims answered from the cache (counted for benchmarks and tests)
        self.aggregator = aggregator  # fitted verdict model (models/verdict); None: the rule `decide`
        # the evidence reader (models/reader), used only when the aggregator was fitted with it
        self.reader = reader if aggregator is not None and aggregator.reader_revision else None
        if aggregator is not None and aggregator.reader_revision and \
                getattr(reader, "revision", None) != aggregator.reader_revision:
            raise ValueError(f"verdict aggregator {aggregator.revision} was fitted with evidence reader "
                             f"{aggregator.reader_revision}, given {getattr(reader, 'revision', None)}")

    def results_key(self) -> str | None:
        """What a claim's result depends on besides the claim: code, model revisions, thresholds,
        date limit and every provider's fingerprint. None when a provider has no fingerprint (web
        search, fact-check APIs: what they return can change at any time), so nothing is reused."""
        prints = [p.fingerprint() if hasattr(p, "fingerprint") else None for p in self.providers]
        emb, st = getattr(self.embedder, "revision", None), getattr(self.stance, "revision", None)
        if not self.providers or None in prints or not emb or not st:
            return None
        agg = self.aggregator.revision if self.aggregator else None
        reader = self.reader.revision if self.reader else None
        parts = [_code_revision(), emb, st, self.t.as_dict(), self.before, prints, agg, reader]
        return "results:" + sha256_text(json.dumps(parts, sort_keys=True, default=str))

    def check(self, claims: Sequence[Claim], progress: Callable[[int, int, Claim], None] | None = None,
              stages: Stages | None = None) -> list[ClaimResult]:
        """Verify claims together: retrieval per claim, then one embedding call for every passage
        that lacks a vector and one stance call for every (claim, passage) pair, length-sorted.
        With a cache, claims checked before against the same corpus state, models, code and
        thresholds get their stored result back (a re-run of an article recomputes nothing)."""
        if not claims:
            return []
        stages = stages or Stages()
        key = self.results_key() if self.cache is not None else None
        if key is None:
            return self._check(claims, progress, stages)
        with stages("retrieve"):
            shas = [_claim_sha(c) for c in claims]
            stored = self.cache.results(key, list(dict.fromkeys(shas)))
        todo = [c for c, sha in zip(claims, shas, strict=True) if sha not in stored]
        fresh = dict(zip((_claim_sha(c) for c in todo), self._check(todo, progress, stages) if todo else [],
                         strict=True))
        if fresh:
            self.cache.put_results(key, fresh)
        self.reused += len(claims) - len(todo)
        if progress:
            for i, c in enumerate(claims):
                if _claim_sha(c) in stored:
                    progress(i + 1, len(claims), c)
        return [replace(stored[sha], claim=c) if sha in stored else fresh[sha] for c, sha in zip(claims, shas, strict=True)]

    def _check(self, claims: Sequence[Claim], progress: Callable[[int, int, Claim], None] | None,
               stages: Stages) -> list[ClaimResult]:
        with stages("embed"):
            qvecs = self.embedder.encode([c.text for c in claims])
        with stages("retrieve"):
            found = self._retrieve(claims, qvecs, progress)
        need = {p.passage_id: p for f in found for p in f.passages.values() if p.embedding is None}
        if need:
            with stages("embed"):
                titles = {pid: next((_title(p, f.sources) for f in found if pid in f.passages), None)
                          for pid, p in need.items()}
                vecs = self.embedder.encode([premise(titles[pid], p.text) for pid, p in need.items()])
            embedded = {pid: replace(p, embedding=tuple(float(x) for x in v))
                        for (pid, p), v in zip(need.items(), vecs, strict=True)}
            for f in found:
                f.passages.update({pid: embedded[pid] for pid in f.passages if pid in embedded})
        with stages("retrieve"):
            pools = [self._pool(claim, qvec, f) for claim, qvec, f in zip(claims, qvecs, found, strict=True)]
        pairs = [(normalize_quantities(claim.text), _stance_input(f.passages[pid], f.sources))
                 for claim, f, (pool, _) in zip(claims, found, pools, strict=True) for pid in pool]
        with stages("stance"):
            scores = iter(predict_pairs(self.stance, pairs))
        kept = []
        with stages("decide"):
            for claim, f, (pool, relevance) in zip(claims, found, pools, strict=True):
                stances = [next(scores) for _ in pool]
                kept.append(self._keep(claim, f, pool, relevance, stances))
        joints: list[StanceScores | None] = [None] * len(claims)
        reads: list[dict | None] = [None] * len(claims)
        if self.aggregator is not None:
            with stages("stance"):
                joints = joint_stances(self.stance, claims, kept, self.t)
                if self.reader is not None:
                    reads = list(read_claims(self.reader, claims, kept))
        results = []
        with stages("decide"):
            for claim, f, evidence, joint, read in zip(claims, found, kept, joints, reads, strict=True):
                if self.aggregator is not None:
                    verdict = decide_fitted(claim.claim_id, evidence, self.t, self.aggregator, joint, read,
                                            claim=claim.text)
                else:
                    verdict = decide(claim.claim_id, evidence, self.t)
                fact_checks = sorted(f.fact_checks, key=lambda fc: -fc.similarity)
                results.append(ClaimResult(claim, tuple(f.sources.values()), tuple(e.passage for e in evidence),
                                           tuple(evidence), verdict, tuple(fact_checks)))
        return results

    def _retrieve(self, claims: Sequence[Claim], qvecs: np.ndarray,
                  progress: Callable[[int, int, Claim], None] | None) -> list[_Found]:
        """Every provider's candidates for every claim, merged per claim in the providers' order.
        A provider with `search_many` (the corpus) answers all claims in one call."""
        batched = {id(p): p.search_many(claims, qvecs) for p in self.providers if hasattr(p, "search_many")}
        found = []
        for i, (claim, qvec) in enumerate(zip(claims, qvecs, strict=True)):
            if progress:
                progress(i + 1, len(claims), claim)
            f = _Found()
            for provider in self.providers:
                self._merge(f, batched[id(provider)][i] if id(provider) in batched else provider.search(claim, qvec))
            found.append(f)
        return found

    def _merge(self, f: _Found, cands: Candidates) -> None:
        f.fact_checks.extend(cands.fact_checks)
        for s in cands.sources:
            f.sources[s.source_id] = s
        for p in cands.passages:
            published = f.sources[p.source_id].published if p.source_id in f.sources else None
            if self.before and published and published[:10] > self.before:
                continue
            f.passages.setdefault(p.passage_id, p)
        f.lexical.update(cands.lexical)

    def _pool(self, claim: Claim, qvec: np.ndarray, f: _Found) -> tuple[list[str], dict[str, tuple[float, float]]]:
        """Candidates worth a stance call: the best by reciprocal-rank fusion of the two rankings,
        with each candidate's (cosine, fused score)."""
        if not f.passages:
            return [], {}
        # Sorted ids: the rankings below are stable sorts, so ties (equal BM25 scores, which the
        # corpus query returns in no fixed order) go by passage id, not by the order hits arrived in.
        ids = sorted(f.passages)
        mat = np.asarray([f.passages[i].embedding for i in ids], dtype=np.float32)
        sims = dict(zip(ids, (mat @ qvec).tolist(), strict=True))
        c_stems = content_stems(claim.text)
        for pid in ids:  # web passages carry no BM25 score: use term overlap
            if pid not in f.lexical:
                f.lexical[pid] = len(c_stems & content_stems(f.passages[pid].text)) / max(1, len(c_stems))
        fused: dict[str, float] = {}
        for ranking in (sorted(ids, key=lambda i: -sims[i]), sorted(ids, key=lambda i: -f.lexical[i])):
            for pid, score in _rrf(ranking, self.t.rrf_k).items():
                fused[pid] = fused.get(pid, 0.0) + score
        pool = sorted(ids, key=lambda i: -fused[i])[: max(2 * self.t.top_k, 10)]
        return pool, {pid: (sims[pid], fused[pid]) for pid in pool}

    def _keep(self, claim: Claim, f: _Found, pool: list[str], scores: dict[str, tuple[float, float]],
              stances: list[StanceScores]) -> list[Evidence]:
        """The `top_k` of the pool by fused relevance plus the stance model's share of
        "not neutral" (weighted by `stance_rerank_weight`)."""
        w = self.t.stance_rerank_weight
        scored = sorted(zip(pool, stances, strict=True),
                        key=lambda pair: -(scores[pair[0]][1] + w * (1.0 - pair[1].neutral)))[: self.t.top_k]
        evidence = []
        for rank, (pid, st) in enumerate(scored, start=1):
            p = f.passages[pid]
            sim = round(scores[pid][0], 6)
            about = shares_subject(claim.text, f"{_title(p, f.sources) or ''} {p.context or p.text}")
            evidence.append(Evidence(claim.claim_id, p, f.sources[p.source_id], rank, sim, round(f.lexical[pid], 6),
                                     st, on_topic=sim >= self.t.topical_min_similarity and about))
        return evidence
