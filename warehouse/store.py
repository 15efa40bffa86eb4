"""Writers. Each takes the connection first; each article or batch is one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Iterable, Sequence

import duckdb

from factledger.errors import WarehouseError
from factledger.records import Article, Claim, ClaimResult, FactCheck, Passage, Source
from warehouse.db import query_sql

__all__ = ["RUN_STATUSES", "RunInfo", "finish_run", "rebuild_claim_latest", "start_run", "store_article_results", "store_claim_results",
           "store_sources"]


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    flow_name: str
    code_version: str
    embedder_name: str
    embedder_revision: str
    stance_model: str
    stance_revision: str
    checkworthy_model: str
    splitter_model: str
    providers: tuple[str, ...]
    thresholds: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)


def start_run(con: duckdb.DuckDBPyConnection, run: RunInfo) -> None:
    con.execute(
        """INSERT INTO runs (run_id, flow_name, started_at, status, code_version, embedder_name,
               embedder_revision, stance_model, stance_revision, checkworthy_model, splitter_model,
               providers, thresholds, params)
           VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (run_id) DO NOTHING""",
        [
            run.run_id, run.flow_name, datetime.now(UTC), run.code_version, run.embedder_name,
            run.embedder_revision, run.stance_model, run.stance_revision, run.checkworthy_model,
            run.splitter_model, list(run.providers), json.dumps(run.thresholds), json.dumps(run.params),
        ],
    )


RUN_STATUSES = ("running", "completed", "failed", "cancelled")


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, *, error: str | None = None,
               status: str | None = None) -> None:
    """Record the end of a run: `completed`, `failed` (with `error`), or the `status` given
    (`cancelled`: stopped by a signal, nothing uncommitted stored)."""
    status = status or ("failed" if error else "completed")
    if status not in RUN_STATUSES[1:]:
        raise ValueError(f"not a finished run status: {status}")
    con.execute(
        "UPDATE runs SET finished_at = ?, status = ?, error = ? WHERE run_id = ?",
        [datetime.now(UTC), status, error, run_id],
    )


_SOURCE_COLUMNS = ("source_id", "provider", "url", "final_url", "title", "fetched_at", "http_status", "content_type",
                   "raw_sha256", "text_sha256", "extractor", "extractor_version", "fetch_status",
                   "status_reason", "run_id", "published", "external_id")
_FACT_CHECK_COLUMNS = ("run_id", "claim_id", "fact_check_id", "provider", "publisher", "publisher_site",
                       "review_url", "title", "textual_rating", "review_date", "claim_reviewed", "claimant",
                       "claim_date", "language", "similarity", "fetched_at")
_PASSAGE_COLUMNS = ("passage_id", "source_id", "text", "span_start", "span_end", "sha256", "embedding", "run_id",
                    "context")
_CLAIM_COLUMNS = ("claim_id", "article_id", "text", "sentence_text", "span_start", "span_end", "checkworthiness",
                  "claim_rank", "run_id", "input_id")
_EVIDENCE_COLUMNS = ("run_id", "claim_id", "passage_id", "evidence_rank", "similarity", "lexical",
                     "p_support", "p_refute", "p_neutral", "stance")
_VERDICT_COLUMNS = ("run_id", "claim_id", "label", "confidence", "rationale", "checked_at", "needs_review")


_TYPES: dict[str, dict[str, str]] = {}


def _column_types(con, table: str) -> dict[str, str]:
    """Column types of one of our tables. Every writer connection is migrated to the schema this
    code ships, so the types are read once per process, not once per insert."""
    if table not in _TYPES:
        _TYPES[table] = dict(con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = current_schema() AND table_catalog = current_database()", [table]).fetchall())
    return _TYPES[table]


def _insert_rows(con, table: str, columns: Sequence[str], rows: Sequence[Sequence], verb: str = "INSERT OR IGNORE") -> None:
    """All `rows` in one statement: each column bound as one typed list and unnested, so a store
    costs a few statements whatever the number of rows (a statement per row cost ~4 ms each)."""
    if not rows:
        return
    types = _column_types(con, table)
    select = ", ".join(f"unnest(${i}::{types[c]}[]) AS {c}" for i, c in enumerate(columns, start=1))
    con.execute(f"{verb} INTO {table} ({', '.join(columns)}) SELECT * FROM (SELECT {select})",
                [list(col) for col in zip(*rows, strict=True)])


def _stored(con, table: str, key: str, ids: Sequence[str]) -> set[str]:
    """Which of `ids` `table` holds already. Ids are content hashes, so a stored id is the same
    row: checking first is cheaper than INSERT OR IGNORE of rows that exist (every re-run)."""
    if not ids:
        return set()
    return {r[0] for r in con.execute(f"SELECT {key} FROM {table} WHERE {key} IN (SELECT unnest($1::VARCHAR[]))",
                                      [list(ids)]).fetchall()}


def _insert_sources(con, run_id: str, sources: Iterable[Source]) -> None:
    rows = {s.source_id: s for s in sources}
    stored = _stored(con, "sources", "source_id", list(rows))
    _insert_rows(con, "sources", _SOURCE_COLUMNS, [
        (sid, s.provider, s.url, s.final_url, s.title, s.fetched_at, s.http_status, s.content_type,
         s.raw_sha256, s.text_sha256, s.extractor, s.extractor_version, s.fetch_status.value,
         s.status_reason, run_id, s.published, s.external_id) for sid, s in rows.items() if sid not in stored])


def _insert_fact_checks(con, run_id: str, checks: Iterable[FactCheck]) -> None:
    _insert_rows(con, "fact_checks", _FACT_CHECK_COLUMNS, [
        (run_id, f.claim_id, f.fact_check_id, f.provider, f.publisher, f.publisher_site, f.review_url,
         f.title, f.textual_rating, f.review_date, f.claim_reviewed, f.claimant, f.claim_date, f.language,
         f.similarity, f.fetched_at) for f in {(f.claim_id, f.fact_check_id): f for f in checks}.values()])


def _insert_passages(con, run_id: str, passages: Sequence[Passage]) -> None:
    """New passages only: ids are content hashes, so a stored id is the same passage. Corpus
    passages found again (every re-run) are skipped before their vectors are bound (~0.5 ms each)."""
    unique = {p.passage_id: p for p in passages}
    if not unique:
        return
    stored = _stored(con, "passages", "passage_id", list(unique))
    _insert_rows(con, "passages", _PASSAGE_COLUMNS, [
        (p.passage_id, p.source_id, p.text, p.start, p.end, p.sha256,
         list(p.embedding) if p.embedding is not None else None, run_id, p.context)
        for pid, p in unique.items() if pid not in stored])


def _insert_claims(con, run_id: str, claims: Sequence[Claim]) -> None:
    unique = {c.claim_id: c for c in claims}
    stored = _stored(con, "claims", "claim_id", list(unique))
    _insert_rows(con, "claims", _CLAIM_COLUMNS, [
        (c.claim_id, c.article_id, c.text, c.sentence_text, c.start, c.end, c.score, c.rank, run_id, c.input_id)
        for cid, c in unique.items() if cid not in stored])


def _insert_results(con, run_id: str, results: Sequence[ClaimResult]) -> None:
    _insert_claims(con, run_id, [r.claim for r in results])
    _insert_sources(con, run_id, [s for r in results for s in r.sources])
    _insert_passages(con, run_id, [p for r in results for p in r.passages])
    _insert_fact_checks(con, run_id, [f for r in results for f in r.fact_checks])
    now = datetime.now(UTC)
    evidence = {(e.claim_id, e.passage.passage_id): e for r in results for e in r.evidence}
    _insert_rows(con, "evidence", _EVIDENCE_COLUMNS, [
        (run_id, e.claim_id, e.passage.passage_id, e.rank, e.similarity, e.lexical,
         e.stance.support, e.stance.refute, e.stance.neutral, e.stance.label.value) for e in evidence.values()],
        verb="INSERT OR REPLACE")
    verdicts = {r.verdict.claim_id: r.verdict for r in results}
    _insert_rows(con, "verdicts", _VERDICT_COLUMNS, [
        (run_id, v.claim_id, v.label.value, v.confidence, v.rationale, now, v.needs_review)
        for v in verdicts.values()], verb="INSERT OR REPLACE")
    if verdicts:
        con.execute(query_sql("claim_latest_upsert"), [run_id, list(verdicts)])


def rebuild_claim_latest(con: duckdb.DuckDBPyConnection) -> None:
    """Refill `claim_latest` (what `latest_verdicts` reads) from every stored verdict: needed only
    after verdicts were written other than through this module, which keeps it up to date."""
    _in_transaction(con, "claim_latest", lambda: con.execute(query_sql("claim_latest_rebuild")))


def _in_transaction(con, what: str, fn) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        fn()
        con.execute("COMMIT")
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise WarehouseError(f"could not store {what}: {str(exc).splitlines()[0]}") from exc


def store_article_results(
    con: duckdb.DuckDBPyConnection, run_id: str, article: Article, results: Sequence[ClaimResult]
) -> None:
    """Write one article, its claims, sources, passages, evidence and verdicts in one transaction."""

    def write():
        con.execute(
            "INSERT OR IGNORE INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [article.article_id, article.ref, article.url, article.title, article.published,
             article.fetched_at, article.raw_sha256, article.text_sha256, article.extractor,
             article.text, run_id],
        )
        _insert_results(con, run_id, results)

    _in_transaction(con, f"article {article.ref}", write)


def store_claim_results(con: duckdb.DuckDBPyConnection, run_id: str, results: Sequence[ClaimResult]) -> None:
    """Write claims checked by hand (no article) with their evidence and verdicts, in one transaction."""
    _in_transaction(con, f"{len(results)} claims", lambda: _insert_results(con, run_id, results))


def store_sources(
    con: duckdb.DuckDBPyConnection, run_id: str, sources: Sequence[Source], passages: Sequence[Passage]
) -> None:
    """Write corpus sources and their passages in one transaction."""

    def write():
        _insert_sources(con, run_id, sources)
        _insert_passages(con, run_id, passages)

    _in_transaction(con, f"{len(sources)} sources", write)


def record_batch_item(
    con: duckdb.DuckDBPyConnection, run_id: str, url: str, origin: str | None, status: str,
    reason: str | None = None, article_id: str | None = None, child_run_id: str | None = None,
) -> None:
    """What a batch did with one candidate article (checked, seen_before, duplicate_content, failed)."""
    con.execute(
        "INSERT OR REPLACE INTO batch_items VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [run_id, url, origin, status, reason, article_id, child_run_id, datetime.now(UTC)],
    )
