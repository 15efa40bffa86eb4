"""Analysts' queries: read statements only, on a read-only connection with file access off."""

from __future__ import annotations

import duckdb

from factledger.errors import InputError

__all__ = ["run_query"]

_ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def run_query(con: duckdb.DuckDBPyConnection, query: str) -> tuple[list[str], list[tuple]]:
    """Column names and rows of one read query. Anything else (a write, several statements) is
    refused with a one-line error.

    Three independent locks: only SELECT/EXPLAIN statements pass this check; the connection is
    read-only; external access (files, ATTACH, COPY, extensions) and configuration are locked.
    """
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise InputError(f"query failed: {_line(exc)}") from exc
    if not statements:
        raise InputError("empty query")
    for st in statements:
        if st.type not in _ALLOWED:
            kind = st.type.name.replace("_", " ")
            raise InputError(f"only read queries are allowed here, not {kind} (the database is opened read-only)")
    if len(statements) > 1:  # DuckDB would run them all and show only the last one's rows
        raise InputError(f"one statement at a time ({len(statements)} given, separated by ';'): {_line(query)}")
    try:
        cur = con.execute(query)
        columns = [d[0] for d in cur.description] if cur.description else []
        return columns, (cur.fetchall() if columns else [])
    except duckdb.Error as exc:
        raise InputError(f"query failed: {_line(exc)}") from exc


def _line(exc: object) -> str:
    text = " ".join(str(exc).split())
    return text[:300]
