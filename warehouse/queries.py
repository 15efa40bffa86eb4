"""Reads the flows need: which articles are new, which claims are due for a re-check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Sequence

import duckdb

from factledger.errors import InputError
from factledger.records import Claim

__all__ = ["claims_by_id", "claims_due_for_recheck", "known_article_refs", "known_text_hashes"]


def known_article_refs(con: duckdb.DuckDBPyConnection, refs: Sequence[str]) -> set[str]:
    if not refs:
        return set()
    rows = con.execute(
        "SELECT DISTINCT ref FROM articles WHERE ref IN (SELECT unnest(?::VARCHAR[])) "
        "UNION SELECT DISTINCT url FROM articles WHERE url IN (SELECT unnest(?::VARCHAR[]))",
        [list(refs), list(refs)],
    ).fetchall()
    return {r[0] for r in rows}


def known_text_hashes(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT DISTINCT text_sha256 FROM articles").fetchall()}


def claims_due_for_recheck(con: duckdb.DuckDBPyConnection, older_than_days: float, limit: int) -> list[Claim]:
    """Claims whose latest verdict is older than `older_than_days`, oldest first."""
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    rows = con.execute(
        """SELECT c.text, c.span_start, c.span_end, c.checkworthiness, c.article_id, c.sentence_text, c.claim_rank
           FROM latest_verdicts lv JOIN claims c USING (claim_id)
           WHERE lv.checked_at < ?
           ORDER BY lv.checked_at
           LIMIT ?""",
        [cutoff, limit],
    ).fetchall()
    return [Claim(text=t, start=s, end=e, score=sc, article_id=a, sentence_text=st, rank=rk)
            for t, s, e, sc, a, st, rk in rows]


def claims_by_id(con: duckdb.DuckDBPyConnection, claim_ids: Sequence[str]) -> list[Claim]:
    """The stored claims with these ids, in the order given, as records that keep their ids when
    checked again (same article, span, text and caller's id). InputError naming an unknown id."""
    rows = {r[0]: r[1:] for r in con.execute(
        """SELECT claim_id, text, span_start, span_end, checkworthiness, article_id, sentence_text, claim_rank, input_id
           FROM claims WHERE claim_id IN (SELECT unnest(?::VARCHAR[]))""", [list(claim_ids)]).fetchall()}
    out = []
    for cid in claim_ids:
        if cid not in rows:
            raise InputError(f"no such claim: {cid}")
        t, s, e, sc, a, st, rk, iid = rows[cid]
        out.append(Claim(text=t, start=s, end=e, score=sc, article_id=a, sentence_text=st, rank=rk, input_id=iid))
    return out

