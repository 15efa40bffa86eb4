"""Source providers behind one interface. Each returns candidate passages for a claim.

- `CorpusProvider`: passages ingested with `factledger corpus add`, searched in DuckDB by BM25
  (fts extension) and exact cosine over the stored embeddings. Works offline.
- `WikipediaProvider`: the MediaWiki Action API (list=search, then prop=extracts as plain text),
  all HTTP through the one `Fetcher`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, Sequence
from urllib.parse import quote

import duckdb
import numpy as np

from factledger.errors import FetchError
from factledger.net import Fetcher
from factledger.records import Claim, FactCheck, FetchStatus, Passage, Source, sha256_text
from verifiers.textfeatures import STOPWORDS

__all__ = ["Candidates", "CorpusProvider", "Provider", "WikipediaProvider", "keyword_query"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Candidates:
    """What a provider found for one claim: every source tried (failed ones too) and passages."""

    sources: tuple[Source, ...] = ()
    passages: tuple[Passage, ...] = ()
    lexical: dict[str, float] = field(default_factory=dict)  # passage_id -> lexical score
    fact_checks: tuple[FactCheck, ...] = ()  # published ClaimReviews matching the claim


class Provider(Protocol):
    name: str

    def search(self, claim: Claim, query_vector: np.ndarray) -> Candidates: ...


# Corpus embeddings held in memory per process, keyed by database file and corpus fingerprint:
# one matrix product answers a query (about 10 ms over 100k passages, against about 130 ms for
# DuckDB's array_cosine_similarity scan), and a changed corpus is reloaded.
@dataclass(frozen=True)
class CorpusMatrix:
    """Every corpus passage's unit vector, one row each, and the row of each passage id."""

    ids: list[str]
    vectors: np.ndarray
    row: dict[str, int]
    fingerprint: str  # database file and corpus identity: changes when documents are added


_MATRICES: dict[tuple, CorpusMatrix] = {}
_MATRIX_LOCK = threading.Lock()


def corpus_matrix(con: duckdb.DuckDBPyConnection, vectors_sql: str, fingerprint_sql: str,
                  store: Path | None = None) -> CorpusMatrix:
    """The vectors of every corpus passage with an embedding, cached per process; with `store` (a
    folder), also on disk between processes, for the same database file and corpus state."""
    path = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    key = (path[0] if path else None, *con.execute(fingerprint_sql).fetchone())
    with _MATRIX_LOCK:
        hit = _MATRICES.get(key)
        if hit is None:
            ids, mat = (_stored_matrix(store, key) if store and key[0] else None) or (None, None)
            if ids is None:
                ids, mat = _query_matrix(con, vectors_sql)
                if store and key[0]:
                    _store_matrix(store, key, ids, mat)
            hit = CorpusMatrix(ids, mat, {pid: i for i, pid in enumerate(ids)}, "|".join(map(str, key)))
            if key[0]:  # an in-memory database has no stable identity: don't keep it
                _MATRICES.clear()
                _MATRICES[key] = hit
    return hit


def _query_matrix(con: duckdb.DuckDBPyConnection, vectors_sql: str) -> tuple[list[str], np.ndarray]:
    """From DuckDB: ~3 s for 146k passages on 2 cores (the FLOAT[384] column arrives as one array
    per row), against ~0.1 s for the same matrix read back from `store`."""
    cols = con.execute(vectors_sql).fetchnumpy()
    ids = [str(x) for x in cols["passage_id"]]
    mat = np.stack(cols["embedding"]).astype(np.float32, copy=False) if ids else np.zeros((0, 384), dtype=np.float32)
    return ids, mat


def _store_names(store: Path, key: tuple) -> tuple[str, Path, Path]:
    """(prefix shared by every state of this database file, its matrix file, its ids file)."""
    from hashlib import sha256

    prefix = sha256(str(key[0]).encode()).hexdigest()[:16]
    name = f"{prefix}-{sha256(repr(key).encode()).hexdigest()[:16]}"
    return prefix, store / f"{name}.npy", store / f"{name}.ids"


def _stored_matrix(store: Path, key: tuple) -> tuple[list[str], np.ndarray] | None:
    """The matrix kept on disk for this database file and corpus state (memory-mapped), or None."""
    _, npy, ids_file = _store_names(store, key)
    try:
        ids = ids_file.read_text(encoding="utf-8").split("\n") if ids_file.stat().st_size else []
        mat = np.load(npy, mmap_mode="r")
    except (OSError, ValueError) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.warning("corpus index %s unreadable, reading the database instead: %s", npy, exc)
        return None
    if mat.shape != (len(ids), 384) or mat.dtype != np.float32:
        log.warning("corpus index %s does not match its ids, reading the database instead", npy)
        return None
    return ids, mat


def _store_matrix(store: Path, key: tuple, ids: list[str], mat: np.ndarray) -> None:
    """Keep the matrix for the next process (written whole, then renamed into place); the files of
    older corpus states of the same database file are removed. A failure only costs speed."""
    import os

    prefix, npy, ids_file = _store_names(store, key)
    try:
        store.mkdir(parents=True, exist_ok=True)
        for target, write in ((ids_file, lambda f: f.write("\n".join(ids).encode("utf-8"))),
                              (npy, lambda f: np.save(f, mat))):
            tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            with tmp.open("wb") as fh:
                write(fh)
            os.replace(tmp, target)
        for old in store.glob(f"{prefix}-*"):
            if old not in (npy, ids_file) and not old.name.endswith(".tmp"):
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not keep the corpus index in %s: %s", store, exc)


class CorpusProvider:
    name = "corpus"

    def __init__(self, con: duckdb.DuckDBPyConnection, *, candidates: int = 30, cache=None) -> None:
        from warehouse.db import has_fts, query_sql

        self.con = con
        self.candidates = candidates
        self.cache = cache  # a verifiers.cache.ScoreCache: BM25 hits kept per corpus state
        self._bm25_sql = query_sql("corpus_bm25")
        self._vectors_sql = query_sql("corpus_vectors")
        self._fingerprint_sql = query_sql("corpus_fingerprint")
        self._matrix: CorpusMatrix | None = None
        self._rows_sql = query_sql("passages_by_id")
        self._has_fts = has_fts(con)
        self._fts_loaded = False

    def fingerprint(self) -> str | None:
        """The corpus as stored now (database file, corpus sources) and how many candidates are
        asked for: what the hits depend on besides the claim. None for an in-memory database."""
        cur = self.con.cursor()
        try:
            path = cur.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
            n, ids_hash = cur.execute(self._fingerprint_sql).fetchone()
        finally:
            cur.close()
        if not path or not path[0]:
            return None
        return f"corpus:{path[0]}:{n}:{ids_hash}:{self.candidates}:{self._has_fts}"

    def search(self, claim: Claim, query_vector: np.ndarray) -> Candidates:
        return self.search_many([claim], np.asarray([query_vector], dtype=np.float32))[0]

    def prefetch_lexical(self, claims: Sequence[Claim]) -> None:
        """Look up the claims' BM25 hits now and keep them in the cache, where `search_many` will
        find them: the lexical half of a search needs no model, so it can run while the models load."""
        if not (self.cache and self._has_fts and claims):
            return
        cur = self.con.cursor()
        try:
            if self._matrix is None:
                self._matrix = corpus_matrix(cur, self._vectors_sql, self._fingerprint_sql)
            self._bm25(cur, [c.text for c in claims], self._matrix.fingerprint)
        finally:
            cur.close()

    def search_many(self, claims: Sequence[Claim], query_vectors: np.ndarray) -> list[Candidates]:
        """Candidates for every claim at once: one BM25 query for the claims not in the cache (hits
        are cached per corpus state), one matrix product for the dense top-k of all claims, one
        query for the rows of every passage found."""
        if not claims:
            return []
        cur = self.con.cursor()  # one cursor per call: safe from worker threads
        try:
            if self._matrix is None:  # once per provider, i.e. per article or batch of claims
                self._matrix = corpus_matrix(cur, self._vectors_sql, self._fingerprint_sql)
            matrix = self._matrix
            lexicals = ([dict(h) for h in self._bm25(cur, [c.text for c in claims], matrix.fingerprint)]
                        if self._has_fts else [{} for _ in claims])
            dense = self._dense(matrix, np.asarray(query_vectors, dtype=np.float32).reshape(len(claims), -1))
            wanted = [list(dict.fromkeys([*lex, *vec])) for lex, vec in zip(lexicals, dense, strict=True)]
            every = list(dict.fromkeys(pid for ids in wanted for pid in ids))
            rows = cur.execute(self._rows_sql, [every]).fetchall() if every else []
        finally:
            cur.close()
        found: dict[str, tuple[str, Source, Passage]] = {}
        for (pid, sid, text, start, end, context, provider, url, final_url, title, fetched_at, http_status,
             ctype, raw_sha, text_sha, extractor, ext_ver, fstatus, reason, external_id) in rows:
            src = Source(
                provider=provider, url=url, final_url=final_url, title=title, fetched_at=fetched_at,
                http_status=http_status, content_type=ctype, raw_sha256=raw_sha, text_sha256=text_sha,
                extractor=extractor, extractor_version=ext_ver, fetch_status=FetchStatus(fstatus),
                status_reason=reason, external_id=external_id,
            )
            passage = Passage(source_id=sid, text=text, start=start, end=end, embedding=self._embedding(pid),
                              context=context)
            if passage.passage_id != pid:  # ids are derived from content; a mismatch means tampering
                log.warning("passage %s does not match its stored text; skipped", pid)
                continue
            found[pid] = (sid, src, passage)
        out = []
        for ids, lexical in zip(wanted, lexicals, strict=True):
            hits = [found[pid] for pid in ids if pid in found]
            sources = {sid: src for sid, src, _ in hits}
            out.append(Candidates(tuple(sources.values()), tuple(p for _, _, p in hits), lexical)
                       if ids else Candidates())
        return out

    def _dense(self, matrix: CorpusMatrix, queries: np.ndarray) -> list[list[str]]:
        """The `candidates` nearest passages of each query row, best first (exact cosine)."""
        if not matrix.ids:
            return [[] for _ in range(len(queries))]
        sims = queries @ matrix.vectors.T  # (claims, passages): one BLAS call for the whole article
        k = min(self.candidates, len(matrix.ids))
        out = []
        for row in sims:
            top = np.argpartition(-row, k - 1)[:k]
            out.append([matrix.ids[i] for i in top[np.argsort(-row[top], kind="stable")]])
        return out

    def _bm25(self, cur, texts: Sequence[str], fingerprint: str) -> list[list[tuple[str, float]]]:
        """BM25 hits of each text: from the cache when the corpus is unchanged, the others in one query."""
        index = f"bm25v3:{fingerprint}:{self.candidates}"
        hits = [self.cache.lexical_hits(index, t) if self.cache else None for t in texts]
        todo = [i for i, h in enumerate(hits) if h is None]
        if todo:
            if not self._fts_loaded:
                from warehouse.db import load_fts

                load_fts(cur)
                self._fts_loaded = True
            for i in todo:
                hits[i] = []
            rows = cur.execute(self._bm25_sql, [todo, [texts[i] for i in todo], self.candidates]).fetchall()
            for i, pid, score in rows:
                hits[i].append((pid, float(score)))
            if self.cache:
                for i in todo:
                    self.cache.put_lexical_hits(index, texts[i], hits[i])
        return hits

    def _embedding(self, passage_id: str) -> tuple[float, ...] | None:
        """From the in-memory matrix: reading FLOAT[384] columns back from DuckDB cost ~0.3 s per
        lookup of 30 passages over a 130k-passage corpus, without them 0.02 s."""
        row = self._matrix.row.get(passage_id) if self._matrix else None
        return None if row is None else tuple(self._matrix.vectors[row].tolist())


def keyword_query(text: str, max_terms: int = 10) -> str:
    """A search-engine query from a claim: its distinctive words, capitalised names first."""
    words = re.findall(r"[A-Za-z][A-Za-z\-]+|\d{3,4}", text.replace("’", "'"))
    seen, names, rest = set(), [], []
    for w in words:
        lw = w.lower()
        if lw in STOPWORDS or lw in seen or len(w) < 3:
            continue
        seen.add(lw)
        (names if w[0].isupper() or w.isdigit() else rest).append(w)
    return " ".join((names + rest)[:max_terms])


class WikipediaProvider:
    """MediaWiki Action API: search, then each page's plain-text extract, split into passages."""

    name = "wikipedia"
    DEFAULT_API = "https://en.wikipedia.org/w/api.php"

    def __init__(self, fetcher: Fetcher, splitter, *, api_url: str | None = None, pages: int = 3,
                 maxlag: int = 5, maxlag_retries: int = 3, max_wait: float = 10.0) -> None:
        self.fetcher = fetcher
        self.splitter = splitter
        self.api_url = api_url or self.DEFAULT_API
        self.pages = pages
        self.maxlag = maxlag
        self.maxlag_retries = maxlag_retries
        self.max_wait = max_wait
        self._page_cache: dict[int, tuple[Source, tuple[Passage, ...]]] = {}

    def _api(self, params: dict) -> tuple[object, object]:
        """One API call. A `maxlag` error arrives as HTTP 200 with an error body and a Retry-After
        header: wait as asked (up to `max_wait`) and try again, a few times at most."""
        params = {**params, "maxlag": self.maxlag}
        for attempt in range(self.maxlag_retries + 1):
            data, result = self.fetcher.get_json(self.api_url, params=params)
            error = data.get("error") if isinstance(data, dict) else None
            if not (isinstance(error, dict) and error.get("code") == "maxlag") or attempt == self.maxlag_retries:
                return data, result
            wait = result.headers.get("retry-after", "5")
            delay = min(float(wait) if wait.isdigit() else 5.0, self.max_wait)
            log.info("wikipedia maxlag (%s); waiting %.0fs", error.get("info", ""), delay)
            self.fetcher.retry_count += 1
            time.sleep(delay)
        return data, result

    def _failed(self, url: str, exc: FetchError) -> Source:
        return Source(provider=self.name, url=url, fetched_at=datetime.now(UTC), fetch_status=FetchStatus.FAILED,
                      status_reason=exc.reason, http_status=exc.status)

    def search(self, claim: Claim, query_vector: np.ndarray) -> Candidates:
        query = keyword_query(claim.text)
        params = {"action": "query", "list": "search", "srsearch": query, "srlimit": self.pages,
                  "srprop": "", "format": "json", "formatversion": 2}
        search_url = f"{self.api_url}?action=query&list=search&srsearch={quote(query)}"
        try:
            data, _ = self._api(params)
        except FetchError as exc:
            return Candidates(sources=(self._failed(search_url, exc),))
        if not isinstance(data, dict) or "error" in data or "query" not in data:
            code = data.get("error", {}).get("code", "bad_response") if isinstance(data, dict) else "bad_response"
            return Candidates(sources=(self._failed(search_url, FetchError(search_url, f"api_{code}")),))
        sources, passages = [], []
        for hit in data["query"].get("search", []):
            page_id = hit.get("pageid")
            if page_id is None:
                continue
            if page_id not in self._page_cache:
                self._page_cache[page_id] = self._fetch_page(int(page_id))
            src, page_passages = self._page_cache[page_id]
            sources.append(src)
            passages.extend(page_passages)
        return Candidates(tuple(sources), tuple(passages))

    def _fetch_page(self, page_id: int) -> tuple[Source, tuple[Passage, ...]]:
        params = {"action": "query", "prop": "extracts|info", "explaintext": 1, "exsectionformat": "plain",
                  "inprop": "url", "pageids": page_id, "format": "json", "formatversion": 2}
        page_url = f"{self.api_url}?curid={page_id}"
        try:
            data, result = self._api(params)
        except FetchError as exc:
            return self._failed(page_url, exc), ()
        pages = data.get("query", {}).get("pages", []) if isinstance(data, dict) else []
        page = pages[0] if pages else {}
        text = (page.get("extract") or "").strip()
        url = page.get("fullurl") or page.get("canonicalurl") or page_url
        if not text or page.get("missing"):
            reason = "missing_page" if page.get("missing") or not page else "empty_text"
            return Source(provider=self.name, url=url, fetched_at=result.fetched_at, http_status=result.status,
                          content_type=result.content_type, raw_sha256=result.sha256,
                          fetch_status=FetchStatus.FAILED, status_reason=reason), ()
        source = Source(
            provider=self.name, url=url, final_url=result.final_url, title=page.get("title"),
            fetched_at=result.fetched_at, http_status=result.status, content_type=result.content_type,
            raw_sha256=result.sha256, text_sha256=sha256_text(text), extractor="mediawiki-textextracts",
            extractor_version=str(page.get("lastrevid", "")) or None, fetch_status=FetchStatus.OK,
            status_reason="ok",
        )
        return source, self.splitter.passages(source.source_id, text)
