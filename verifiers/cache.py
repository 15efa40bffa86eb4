"""Model outputs cached by model revision and the sha256 of their input, so a re-run recomputes nothing.

`ScoreCache` is one SQLite file (WAL, safe for several processes) with five tables: sentence
embeddings, stance scores, BM25 hits per corpus state (the corpus fingerprint is the key, so
an added document invalidates them), the claims drawn from an article text (keyed by the
extractor's models, code and settings) and whole claim results (keyed by the verifier's code,
models, thresholds and the fingerprints of its sources; only sources that have one, the corpus). `CachedEmbedder` and `CachedStance` wrap a model with it and count
what they computed, so benchmarks and tests can show that a re-run embedded nothing. A different
model revision (retrained weights, another package version) never reads the old entries.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from factledger.records import ClaimResult, StanceScores, record_from_plain, record_to_plain, sha256_text
from verifiers.embed import DIM, Embedder
from verifiers.stance import StanceModel

__all__ = ["CachedEmbedder", "CachedStance", "ScoreCache", "predict_pairs"]

_CHUNK = 500  # SQLite host-parameter batches


def _pair_sha(claim: str, passage: str) -> str:
    return sha256_text(claim + "\x00" + passage)


class ScoreCache:
    """Embeddings, stance scores and BM25 hits keyed by (model revision or index identity, sha256 of the input)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(
            "CREATE TABLE IF NOT EXISTS embeddings (model TEXT, sha TEXT, vec BLOB, PRIMARY KEY (model, sha));"
            "CREATE TABLE IF NOT EXISTS stances (model TEXT, sha TEXT, support REAL, refute REAL, neutral REAL,"
            " PRIMARY KEY (model, sha));"
            "CREATE TABLE IF NOT EXISTS lexical (model TEXT, sha TEXT, hits TEXT, PRIMARY KEY (model, sha));"
            "CREATE TABLE IF NOT EXISTS claims (model TEXT, sha TEXT, claims TEXT, PRIMARY KEY (model, sha));"
            "CREATE TABLE IF NOT EXISTS results (model TEXT, sha TEXT, result TEXT, PRIMARY KEY (model, sha));"
        )
        self._db.commit()

    def _select(self, table: str, cols: str, model: str, shas: Sequence[str]) -> list[tuple]:
        rows: list[tuple] = []
        with self._lock:
            for i in range(0, len(shas), _CHUNK):
                part = list(shas[i:i + _CHUNK])
                marks = ",".join("?" * len(part))
                rows += self._db.execute(
                    f"SELECT sha, {cols} FROM {table} WHERE model = ? AND sha IN ({marks})", [model, *part]
                ).fetchall()
        return rows

    def _insert(self, table: str, n_values: int, rows: Iterable[tuple]) -> None:
        marks = ",".join("?" * n_values)
        with self._lock:
            self._db.executemany(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", list(rows))
            self._db.commit()

    def vectors(self, model: str, shas: Sequence[str]) -> dict[str, np.ndarray]:
        return {sha: np.frombuffer(blob, dtype=np.float32) for sha, blob in self._select("embeddings", "vec", model, shas)
                if len(blob) == DIM * 4}

    def put_vectors(self, model: str, items: dict[str, np.ndarray]) -> None:
        self._insert("embeddings", 3, ((model, sha, np.asarray(v, dtype=np.float32).tobytes())
                                       for sha, v in items.items()))

    def stances(self, model: str, shas: Sequence[str]) -> dict[str, StanceScores]:
        return {sha: StanceScores(support=s, refute=r, neutral=n)
                for sha, s, r, n in self._select("stances", "support, refute, neutral", model, shas)}

    def put_stances(self, model: str, items: dict[str, StanceScores]) -> None:
        self._insert("stances", 5, ((model, sha, s.support, s.refute, s.neutral) for sha, s in items.items()))

    def lexical_hits(self, index: str, text: str) -> list[tuple[str, float]] | None:
        """Stored BM25 hits of `text` in the index identified by `index` (corpus fingerprint)."""
        rows = self._select("lexical", "hits", index, [sha256_text(text)])
        return [(pid, float(score)) for pid, score in json.loads(rows[0][1])] if rows else None

    def put_lexical_hits(self, index: str, text: str, hits: Sequence[tuple[str, float]]) -> None:
        self._insert("lexical", 3, [(index, sha256_text(text), json.dumps([[pid, score] for pid, score in hits]))])

    def claims(self, extractor: str, article_sha: str) -> list[dict] | None:
        """The claims `extractor` (models, code and settings) drew from an article text, as stored."""
        rows = self._select("claims", "claims", extractor, [article_sha])
        return json.loads(rows[0][1]) if rows else None

    def put_claims(self, extractor: str, article_sha: str, claims: Sequence[dict]) -> None:
        self._insert("claims", 3, [(extractor, article_sha, json.dumps(list(claims)))])

    def results(self, verifier: str, claim_shas: Sequence[str]) -> dict[str, ClaimResult]:
        """Results `verifier` (its code, models, thresholds and the state of its sources) reached
        for claims before, by claim sha."""
        return {sha: record_from_plain(ClaimResult, json.loads(text))
                for sha, text in self._select("results", "result", verifier, claim_shas)}

    def put_results(self, verifier: str, items: dict[str, ClaimResult]) -> None:
        """Kept without passage vectors: results are cached only against the fingerprint of the
        corpus they came from, whose warehouse stores every such passage with its vector already
        (a re-run skips them), and the verdict that used them is part of the result. Writing the
        vectors as JSON cost ~50 ms an article (9 claims, ~500 passages of 384 floats)."""
        self._insert("results", 3, ((verifier, sha, json.dumps(record_to_plain(_without_vectors(r))))
                                    for sha, r in items.items()))

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachedEmbedder:
    """An `Embedder` that encodes only texts it has not seen under the same model revision."""

    def __init__(self, inner: Embedder, cache: ScoreCache, *, memory_items: int = 200_000) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.revision = inner.revision
        self.memory_items = memory_items
        self._memory: dict[str, np.ndarray] = {}
        self.computed = 0  # texts actually encoded by the model
        self.served = 0  # texts answered from the cache

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        shas = [sha256_text(t) for t in texts]
        found = {s: self._memory[s] for s in shas if s in self._memory}
        missing = [s for s in dict.fromkeys(shas) if s not in found]
        if missing:
            found.update(self.cache.vectors(self.revision, missing))
        todo = {s: t for s, t in zip(shas, texts, strict=True) if s not in found}
        if todo:
            vecs = self.inner.encode(list(todo.values()))
            new = dict(zip(todo, vecs, strict=True))
            self.cache.put_vectors(self.revision, new)
            found.update(new)
            self.computed += len(todo)
        self.served += len(texts) - len(todo)
        if len(self._memory) + len(found) > self.memory_items:
            self._memory.clear()
        self._memory.update(found)
        return np.stack([found[s] for s in shas]).astype(np.float32, copy=False)


def predict_pairs(model: StanceModel, pairs: Sequence[tuple[str, str]]) -> list[StanceScores]:
    """Stance for many (claim, passage) pairs: one batched call when the model offers one."""
    if not pairs:
        return []
    batched = getattr(model, "predict_pairs", None)
    if batched is not None:
        return batched(pairs)
    by_claim: dict[str, list[int]] = {}
    for i, (claim, _) in enumerate(pairs):
        by_claim.setdefault(claim, []).append(i)
    result: dict[int, StanceScores] = {}
    for claim, idx in by_claim.items():
        for i, s in zip(idx, model.predict(claim, [pairs[i][1] for i in idx]), strict=True):
            result[i] = s
    return [result[i] for i in range(len(pairs))]


class CachedStance:
    """A `StanceModel` that scores only (claim, passage) pairs it has not scored under the same revision."""

    def __init__(self, inner: StanceModel, cache: ScoreCache) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.revision = inner.revision
        self.computed = 0
        self.served = 0

    def predict(self, claim: str, passages: Sequence[str]) -> list[StanceScores]:
        return self.predict_pairs([(claim, p) for p in passages])

    def predict_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[StanceScores]:
        if not pairs:
            return []
        shas = [_pair_sha(c, p) for c, p in pairs]
        found = self.cache.stances(self.revision, list(dict.fromkeys(shas)))
        todo = {s: pair for s, pair in zip(shas, pairs, strict=True) if s not in found}
        if todo:
            new = dict(zip(todo, predict_pairs(self.inner, list(todo.values())), strict=True))
            self.cache.put_stances(self.revision, new)
            found.update(new)
            self.computed += len(todo)
        self.served += len(pairs) - len(todo)
        return [found[s] for s in shas]


def _without_vectors(result: ClaimResult) -> ClaimResult:
    bare = {p.passage_id: replace(p, embedding=None) for p in result.passages}
    for e in result.evidence:
        bare.setdefault(e.passage.passage_id, replace(e.passage, embedding=None))
    return replace(result, passages=tuple(bare[p.passage_id] for p in result.passages),
                   evidence=tuple(replace(e, passage=bare[e.passage.passage_id]) for e in result.evidence))
