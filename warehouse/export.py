"""Exports for analysts and editors: CSV, Parquet, JSON Lines, and draft ClaimReview JSON-LD."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from factledger.errors import InputError
from warehouse.db import sql_literal

__all__ = ["EXPORTABLE", "ORDER_BY", "RATING", "claimreview_drafts", "export_table", "training_jsonl",
           "write_claimreview", "write_training"]

# Each exportable view or table with the key its rows are written in: unique (a table's primary
# key, or what makes a view's row unique) so that the same warehouse always exports the same file,
# row for row; oldest first where rows carry a time.
ORDER_BY = {
    "verdict_evidence": "run_id, claim_id, evidence_rank, passage_sha256",
    "verdict_provenance": "run_id, claim_id, evidence_rank, passage_sha256",
    "latest_verdicts": "claim_id",
    "verdict_history": "claim_id, checked_at, run_id, review_id NULLS FIRST",
    "verdicts_current": "claim_id",
    "review_queue": "queue_rank",
    "review_history": "claim_id, review_seq",
    "claims_per_article": "article_id",
    "sources_by_domain": "domain NULLS FIRST",
    "source_changes": "url, fetched_at, fetch_status, status_reason, raw_sha256 NULLS FIRST, text_sha256 NULLS FIRST",
    "run_summary": "started_at, run_id",
    "fact_checks": "run_id, claim_id, fact_check_id",
    "batch_items": "run_id, recorded_at, url",
    "runs": "started_at, run_id",
    "articles": "article_id",
    "claims": "claim_id",
    "sources": "source_id",
    "verdicts": "run_id, claim_id",
    "evidence": "run_id, claim_id, evidence_rank, passage_id",
    "reviews": "claim_id, review_seq",
}
EXPORTABLE = tuple(ORDER_BY)
_FORMATS = {"csv": "(FORMAT csv, HEADER true)", "parquet": "(FORMAT parquet)", "jsonl": "(FORMAT json)"}

# schema.org Rating for each verdict: value on 1..5 and the words a reader sees (alternateName).
RATING = {
    "supported": (5, "True"),
    "refuted": (1, "False"),
    "conflicting": (3, "Mixed"),
    "not_enough_evidence": (3, "Unproven"),
}


def export_table(con: duckdb.DuckDBPyConnection, name: str, fmt: str, out: str | Path) -> int:
    """Write view or table `name` to `out` in `fmt`, rows in the order of `ORDER_BY[name]`; return the row count."""
    if name not in EXPORTABLE:
        raise InputError(f"cannot export {name!r} (choose from {', '.join(EXPORTABLE)})")
    if fmt not in _FORMATS:
        raise InputError(f"unknown export format {fmt!r} (csv, parquet, jsonl, claimreview)")
    out = Path(out)
    if out.is_dir():
        raise InputError(f"is a directory, not an output file: {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY (SELECT * FROM {name} ORDER BY {ORDER_BY[name]}) TO {sql_literal(str(out))} {_FORMATS[fmt]}")
    return con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]


def claimreview_drafts(con: duckdb.DuckDBPyConnection, *, publisher: str, review_base_url: str,
                       article: str | None = None) -> list[dict]:
    """One schema.org ClaimReview per claim, from the decision that stands (`verdicts_current`).
    A machine verdict is a draft (`creativeWorkStatus: Draft`) for a human to sign off; only a
    verdict a reviewer confirmed or overruled leaves Draft (`Published`, dated the review)."""
    rows = con.execute(
        """SELECT vc.claim_id, vc.claim_text, vc.label, vc.decided_by, vc.machine_label, vc.machine_confidence,
                  vc.checked_at, vc.reviewer, vc.reviewed_at, a.ref, a.url, a.title, a.published, a.fetched_at
           FROM verdicts_current vc JOIN claims c USING (claim_id) LEFT JOIN articles a ON a.article_id = c.article_id
           WHERE {0} IS NULL OR a.ref = {0} OR a.article_id = {0}
           ORDER BY a.ref NULLS FIRST, c.claim_rank NULLS FIRST, vc.claim_id""".format(sql_literal(article)),
    ).fetchall()  # no bound parameter: see sql_literal
    drafts = []
    for (claim_id, text, label, decided_by, machine_label, conf, checked_at, reviewer, reviewed_at, ref, url, title,
         published, fetched_at) in rows:
        value, words = RATING[label]
        web = url if url and url.startswith(("http://", "https://")) else None  # never a local file path
        item: dict = {"@type": "Claim"}
        if web:  # who made the claim: the site that published it (the article's title is not an author)
            item["author"] = {"@type": "Organization", "name": urlsplit(web).hostname}
            item["appearance"] = [{"@type": "CreativeWork", "url": web}]
        if published:  # only when the page says when; never the fetch or export date
            item["datePublished"] = published
        if decided_by == "reviewer":
            how = "confirmed" if label == machine_label else f"overruled the machine's {machine_label}"
            status, day = "Published", reviewed_at.date().isoformat()
            description = f"Verdict {label}, decided by a fact-checker ({reviewer}, {day}; {how})."
        else:  # not published yet: no publication date
            status, day = "Draft", None
            description = f"DRAFT for human sign-off: FactLedger verdict {label} (confidence {conf:.2f})."
        drafts.append({
            "@context": "https://schema.org",
            "@type": "ClaimReview",
            "url": review_base_url.rstrip("/") + "/" + claim_id,
            "claimReviewed": text,
            "itemReviewed": item,
            "author": {"@type": "Organization", "name": publisher},
            "reviewRating": {"@type": "Rating", "ratingValue": value, "bestRating": 5, "worstRating": 1,
                             "alternateName": words},
            **({"datePublished": day} if day else {}),
            "creativeWorkStatus": status,
            "description": description,
        })
    return drafts


def training_jsonl(pairs: list[dict]) -> str:
    """Pairs in the nli-train schema as the JSON Lines text `write_training` writes (its sha256 is
    what a model card trained on them records)."""
    return "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs)


def write_training(con: duckdb.DuckDBPyConnection, out: str | Path) -> int:
    """The reviewed (claim, passage, label) pairs (`warehouse.reviews.training_pairs`) as JSON Lines
    in the nli-train schema, ordered by id; returns the number of pairs."""
    from warehouse.reviews import training_pairs

    pairs = training_pairs(con)
    Path(out).write_text(training_jsonl(pairs), encoding="utf-8")
    return len(pairs)


def write_claimreview(con, out: str | Path, **kwargs) -> int:
    drafts = claimreview_drafts(con, **kwargs)
    Path(out).write_text(json.dumps(drafts, indent=2, ensure_ascii=False), encoding="utf-8")
    return len(drafts)
