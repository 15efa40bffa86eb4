"""Opening, migrating and indexing the DuckDB warehouse. One explicit connection, passed in."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from contextlib import contextmanager
from importlib import resources
from typing import Iterator
from pathlib import Path

import duckdb

from factledger.errors import WarehouseError

__all__ = [
    "WAL_CHECKPOINT_THRESHOLD",
    "checkpoint",
    "connect",
    "copy_database",
    "fts_extension_path",
    "load_fts",
    "migrate",
    "opened",
    "query_sql",
    "rebuild_fts",
]

log = logging.getLogger(__name__)

_SAFE_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
# Writers leave their commits in the write-ahead log when they close, and DuckDB folds the log into
# the database file (a checkpoint) at the first commit that takes it past this size. A checkpoint
# on every close rewrote the primary-key indexes of the whole warehouse: 0.11-0.15 s per writer
# session at 130k passages, twice per checked article. The log is durable (each commit is synced)
# and every reader, read-only ones included, replays it on open: ~13 ms per MB of log, so the cap
# keeps that small while a checkpoint falls once every ten or twenty articles.
WAL_CHECKPOINT_THRESHOLD = "2MB"
_MIGRATION = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


def _sql_dir():
    return resources.files("warehouse") / "sql"


def query_sql(name: str) -> str:
    """The text of `warehouse/sql/queries/<name>.sql`."""
    return (_sql_dir() / "queries" / f"{name}.sql").read_text(encoding="utf-8")


def fts_extension_path() -> Path:
    """The fts extension file shipped inside the duckdb-extension-fts package (never downloaded)."""
    import duckdb_extension_fts

    base = Path(duckdb_extension_fts.__file__).parent / "extensions"
    found = sorted(base.glob(f"v{duckdb.__version__}/fts.duckdb_extension")) or sorted(base.glob("*/fts.duckdb_extension"))
    if not found:
        raise WarehouseError(f"fts extension file not found in {base}")
    return found[0]


def connect(
    path: str | Path, *, read_only: bool = False, analyst: bool = False, lock_timeout: float = 60.0
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse at `path`: a writer (migrated), a pipeline reader, or an analyst reader.

    DuckDB lets one writing process hold a file, or any number of reading processes. The pipeline
    holds the write lock only for its short store transactions and reads through read-only
    connections otherwise, so analysts can query while a batch runs; whoever finds the file
    locked retries for up to `lock_timeout` seconds, then gives up with a one-line error.
    Analyst connections (`analyst=True`) also have external access off and the configuration locked.
    """
    read_only = read_only or analyst
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(f"no such database: {path}")
    if path.exists() and path.is_dir():
        raise WarehouseError(f"is a directory, not a database file: {path}")
    config = dict(_SAFE_CONFIG)
    if analyst:
        config["enable_external_access"] = False
    deadline = time.monotonic() + lock_timeout
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=config)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                raise WarehouseError(f"cannot open database ({_first_line(exc)}): {path}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open database ({_first_line(exc)}): {path}") from exc
    if analyst:
        con.execute("SET lock_configuration = true")
        return con
    if not read_only:
        con.execute("PRAGMA disable_checkpoint_on_shutdown")
        con.execute(f"SET checkpoint_threshold = '{WAL_CHECKPOINT_THRESHOLD}'")
        migrate(con)
        from warehouse.credibility import load_credibility

        load_credibility(con)
    return con


@contextmanager
def opened(path: str | Path, **kwargs) -> Iterator[duckdb.DuckDBPyConnection]:
    """`connect(path, **kwargs)`, closed on exit: hold the file only as long as needed."""
    con = connect(path, **kwargs)
    try:
        yield con
    finally:
        con.close()


def checkpoint(con: duckdb.DuckDBPyConnection) -> None:
    """Fold the write-ahead log into the database file now (writers otherwise leave it to DuckDB's
    size threshold, `WAL_CHECKPOINT_THRESHOLD`): after a bulk load, before copying the file."""
    con.execute("CHECKPOINT")


def copy_database(src: str | Path, dst: str | Path) -> Path:
    """Copy a closed warehouse with its write-ahead log (commits not yet checkpointed live there)."""
    import shutil

    src, dst = Path(src), Path(dst)
    shutil.copyfile(src, dst)
    wal, dst_wal = Path(f"{src}.wal"), Path(f"{dst}.wal")
    if wal.exists():
        shutil.copyfile(wal, dst_wal)
    else:
        dst_wal.unlink(missing_ok=True)
    return dst


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """Load the packaged fts extension into this database instance, unless it is loaded already.
    Called where BM25 is needed (a search that misses the cache, an index rebuild), not on every
    connect: loading it costs ~60 ms, a re-run served from the caches never needs it."""
    row = con.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'fts'").fetchone()
    if not (row and row[0]):
        con.execute(f"LOAD '{fts_extension_path()}'")


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the numbered .sql files not yet recorded, each in its own transaction; re-create the
    views when a migration ran or views.sql changed (its sha256 is kept in `schema_meta`)."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    files = sorted((f for f in _sql_dir().iterdir() if _MIGRATION.match(f.name)), key=lambda f: f.name)
    for f in files:
        version, name = _MIGRATION.match(f.name).groups()
        if int(version) in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f.read_text(encoding="utf-8"))
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [int(version), name])
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise WarehouseError(f"migration {f.name} failed: {_first_line(exc)}") from exc
        applied.append(f.name)
        log.info("applied migration %s", f.name)
    views = (_sql_dir() / "views.sql").read_text(encoding="utf-8")
    digest = hashlib.sha256(views.encode("utf-8")).hexdigest()
    row = con.execute("SELECT value FROM schema_meta WHERE key = 'views_sha256'").fetchone()
    if applied or not row or row[0] != digest:
        con.execute("BEGIN TRANSACTION")
        con.execute(views)
        con.execute("INSERT OR REPLACE INTO schema_meta VALUES ('views_sha256', ?)", [digest])
        con.execute("COMMIT")
    return applied


def rebuild_fts(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)build the BM25 index over passages; DuckDB's FTS index does not follow inserts."""
    load_fts(con)
    con.execute(
        "PRAGMA create_fts_index('passages', 'passage_id', 'text', "
        "stemmer='porter', stopwords='english', lower=1, strip_accents=1, overwrite=1)"
    )


def has_fts(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'fts_main_passages'"
    ).fetchone()
    return bool(row and row[0])
