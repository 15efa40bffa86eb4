"""Opening, migrating and indexing the DuckDB warehouse. One explicit connection, passed in."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from contextlib import contextmanager
from importlib import resources
from typing import Iterator
from pathlib import Path

import duckdb

from factledger.errors import WarehouseError, WarehouseLocked

__all__ = [
    "close_soon",
    "connect",
    "fts_extension_path",
    "load_fts",
    "migrate",
    "opened",
    "query_sql",
    "rebuild_fts",
    "sql_literal",
    "views_sql",
]

log = logging.getLogger(__name__)

_SAFE_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
_MIGRATION = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


def _sql_dir():
    return resources.files("warehouse") / "sql"


def query_sql(name: str) -> str:
    """The text of `warehouse/sql/queries/<name>.sql`."""
    return (_sql_dir() / "queries" / f"{name}.sql").read_text(encoding="utf-8")


def views_sql() -> str:
    """The text of `warehouse/sql/views.sql`: the analysts' views and macros, re-created after migrating."""
    return (_sql_dir() / "views.sql").read_text(encoding="utf-8")


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
    A writer or an analyst also waits for this process's snapshot publish of the file
    (`warehouse.snapshot`), which reads it through a pipeline reader's configuration (DuckDB allows
    one per file per process). WarehouseLocked: still locked after `lock_timeout`.
    """
    path = Path(path)
    _await_closes(path)
    if analyst or not read_only:
        from warehouse.snapshot import await_publish

        await_publish(path)
    read_only = read_only or analyst
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
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            # another process holds the write lock, or another thread of this one has the file open
            # as a writer while we want to read (DuckDB refuses a second configuration in a process)
            if not _busy(exc):
                raise WarehouseError(f"cannot open database ({_first_line(exc)}): {path}") from exc
            if time.monotonic() >= deadline:
                raise WarehouseLocked(f"cannot open database ({_first_line(exc)}): {path}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open database ({_first_line(exc)}): {path}") from exc
    if analyst:
        con.execute("SET lock_configuration = true")
        return con
    if not read_only:
        migrate(con)
        if _has_schema(con, "fts_main_passages"):  # BM25 index of an older version: rebuild it
            log.warning("rebuilding the BM25 index of %s over page titles and passages (once, after an upgrade)", path)
            rebuild_fts(con)
        from warehouse.credibility import load_credibility

        load_credibility(con)
    return con


def sql_literal(value: str | None) -> str:
    """`value` as a DuckDB string literal (quotes doubled; a backslash is not an escape in DuckDB
    strings), or NULL. For the light commands (`report`, `export`) only: DuckDB imports pandas and
    numpy (~1 s on 2 cores) to bind its first parameter, a cost `sql` and `--help` never pay."""
    if value is None:
        return "NULL"
    if "\0" in value:
        raise WarehouseError(f"a NUL character in a value: {value!r}")
    return "'" + value.replace("'", "''") + "'"


def _busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text or "different configuration" in text


@contextmanager
def opened(path: str | Path, *, close_in_background: bool = False, publish: bool = False,
           **kwargs) -> Iterator[duckdb.DuckDBPyConnection]:
    """`connect(path, **kwargs)`, closed on exit: hold the file only as long as needed. With
    `close_in_background`, a block that ends without an error leaves the close to `close_soon`.
    With `publish` (a writer's store), a block that ends without an error then has the analysts'
    snapshot published in the background (`warehouse.snapshot.publish_soon`)."""
    con = connect(path, **kwargs)
    try:
        yield con
    except BaseException:
        con.close()
        raise
    if close_in_background:
        close_soon(con, path)
    else:
        con.close()
    if publish:
        from warehouse.snapshot import publish_soon

        publish_soon(path)


# Writers closed in the background, by resolved database path (see `close_soon`).
_CLOSING: dict[str, list[threading.Thread]] = {}
_CLOSING_LOCK = threading.Lock()


def close_soon(con: duckdb.DuckDBPyConnection, path: str | Path) -> None:
    """Close a writer whose work is committed in a background thread, and return at once.

    Closing a writer checkpoints its commits into the database file: ~60 ms after an article's
    results at 130k passages, on top of ~40 ms to store them. The commit is already durable (the
    write-ahead log), so a flow need not wait for the checkpoint: the next `connect` to the same
    file in this process waits for it (DuckDB allows one configuration per file per process),
    other processes wait on the write lock as usual, and the interpreter waits for it at exit.
    """
    key = str(Path(path).resolve())
    # Never a daemon (a thread started from a daemon thread is one by default): the interpreter
    # waits for it at exit instead of ending the process in the middle of DuckDB's checkpoint.
    thread = threading.Thread(target=con.close, name=f"duckdb-close:{Path(path).name}", daemon=False)
    with _CLOSING_LOCK:
        _CLOSING.setdefault(key, []).append(thread)
        thread.start()


def _await_closes(path: Path) -> None:
    key = str(path.resolve())
    with _CLOSING_LOCK:
        threads = list(_CLOSING.get(key, ()))
    for thread in threads:
        thread.join()
    with _CLOSING_LOCK:
        alive = [t for t in _CLOSING.get(key, ()) if t.is_alive()]
        if alive:
            _CLOSING[key] = alive
        else:
            _CLOSING.pop(key, None)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def load_fts(con: duckdb.DuckDBPyConnection) -> None:
    """Load the packaged fts extension into this database instance, unless it is loaded already.
    Called where BM25 is needed (a search that misses the cache, an index rebuild), not on every
    connect: loading it costs ~60 ms, a re-run served from the caches never needs it."""
    row = con.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'fts'").fetchone()
    if not (row and row[0]):
        con.execute(f"LOAD '{fts_extension_path()}'")


def _migration_files() -> list:
    """The numbered migration files (`NNN_name.sql`), in order."""
    return sorted((f for f in _sql_dir().iterdir() if _MIGRATION.match(f.name)), key=lambda f: f.name)


def schema_version() -> int:
    """The version the newest migration brings a database to."""
    return int(_MIGRATION.match(_migration_files()[-1].name).group(1))


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the numbered .sql files not yet recorded, each in its own transaction; re-create the
    views when a migration ran or views.sql changed (its sha256 is kept in `schema_meta`)."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for f in _migration_files():
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
    views = views_sql()
    digest = hashlib.sha256(views.encode("utf-8")).hexdigest()
    row = con.execute("SELECT value FROM schema_meta WHERE key = 'views_sha256'").fetchone()
    if applied or not row or row[0] != digest:
        con.execute("BEGIN TRANSACTION")
        con.execute(views)
        con.execute("INSERT OR REPLACE INTO schema_meta VALUES ('views_sha256', ?)", [digest])
        con.execute("COMMIT")
    return applied


def rebuild_fts(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)build the BM25 index over the corpus passages, each with its page title in front
    (`passage_search`, migration 007); DuckDB's FTS index does not follow inserts. Drops an index
    an older version built over `passages`."""
    load_fts(con)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(query_sql("passage_search_fill"))
        con.execute("COMMIT")
    except duckdb.Error:
        con.execute("ROLLBACK")
        raise
    con.execute(
        "PRAGMA create_fts_index('passage_search', 'passage_id', 'text', "
        "stemmer='porter', stopwords='english', lower=1, strip_accents=1, overwrite=1)"
    )
    if _has_schema(con, "fts_main_passages"):
        con.execute("PRAGMA drop_fts_index('passages')")


def _has_schema(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute("SELECT count(*) FROM duckdb_schemas() WHERE schema_name = ?", [name]).fetchone()
    return bool(row and row[0])


def has_fts(con: duckdb.DuckDBPyConnection) -> bool:
    return _has_schema(con, "fts_main_passage_search")
