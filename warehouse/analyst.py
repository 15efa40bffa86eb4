"""Analysts' queries: read statements only, on a read-only connection with file access off."""

from __future__ import annotations

from pathlib import Path

import duckdb

from factledger.errors import InputError, WarehouseLocked
from warehouse.db import connect
from warehouse.snapshot import Snapshot, snapshot_of, snapshot_path

__all__ = ["open_for_analysis", "run_query"]


def open_for_analysis(db: str | Path) -> tuple[duckdb.DuckDBPyConnection, Snapshot | None]:
    """An analyst connection (read-only, file access off, configuration locked) to the warehouse
    itself when it can be had at once, else to its newest published snapshot (`warehouse.snapshot`),
    which is returned too (None: the live file). A file held by a writer with no snapshot beside it,
    or a missing database, is a one-line WarehouseError naming it."""
    db = Path(db)
    try:
        return connect(db, analyst=True, lock_timeout=0), None
    except WarehouseLocked:
        snapshot = snapshot_of(db)
        if snapshot is None:
            raise WarehouseLocked(f"database held by a writer (another process) and no snapshot published beside it "
                                  f"({snapshot_path(db).name}): {db}") from None
        return connect(snapshot.path, analyst=True, lock_timeout=0), snapshot


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
