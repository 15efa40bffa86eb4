"""The analysts' snapshot: a read-only copy of the warehouse, published beside it by the writer.

DuckDB lets one process hold a database file while it writes, and a second process cannot open it
then, not even read-only. So after each store (a check's results, a batch article, a review, a
corpus added) the writer publishes `<db>.snapshot` (`snapshot_path`): it reads the warehouse
through a read-only connection, ATTACHes a new temporary file beside it, copies the tables in one
transaction, re-creates the views and macros there (views.sql), DETACHes it and renames it over the
previous snapshot (`os.replace`, atomic): a reader that has the old snapshot open keeps reading it,
the next one opens the new. `factledger sql` reads the live file when it can have it at once, else
the newest snapshot (`warehouse.analyst.open_for_analysis`).

Left out, to keep the publish short: `passages.embedding` (FLOAT[384], most of the file) and
`passage_search` with the BM25 index (the corpus provider's search structures). On the 146,107-passage
benchmark corpus a copy of everything took 13.0 s and 395 MB; this one 0.7 s and 53 MB (2 cores).
It still runs in a background thread (`publish_soon`), one at a time per file and coalesced: stores
that come while one is under way are covered by one more publish after it. A writer in this process
waits for it (`await_publish`, from `warehouse.db.connect`): DuckDB allows one configuration per file
per process, and the publish holds a read-only one. The process waits for it at exit (not a daemon).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from factledger.pids import alive
from warehouse.db import opened, query_sql, sql_literal, views_sql

__all__ = ["LEFT_OUT_COLUMNS", "SUFFIX", "Snapshot", "await_publish", "publish", "publish_soon", "snapshot_of",
           "snapshot_path"]

log = logging.getLogger(__name__)

SUFFIX = ".snapshot"
# Columns not copied: the passages' embeddings are 400 of the 450 MB a full copy wrote at 146k passages.
LEFT_OUT_COLUMNS = {"passages": ("embedding",)}
_ALIAS = "factledger_snapshot"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A published snapshot: its file and when it was published (the rename, UTC)."""

    path: Path
    published: datetime


def snapshot_path(db: str | Path) -> Path:
    """Where the snapshot of `db` is published: beside it, `<db>.snapshot`."""
    db = Path(db)
    return db.with_name(db.name + SUFFIX)


def snapshot_of(db: str | Path) -> Snapshot | None:
    """The newest published snapshot of `db`, or None when none was published."""
    path = snapshot_path(db)
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    return Snapshot(path, datetime.fromtimestamp(mtime, UTC))


def publish(db: str | Path) -> Snapshot:
    """Publish the snapshot of `db` now (see the module's docstring); returns it."""
    db = Path(db).resolve()
    target = snapshot_path(db)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    _remove_leftovers(target)
    _remove(tmp)
    try:
        with opened(db, read_only=True) as con:
            main = con.execute("SELECT current_database()").fetchone()[0]
            con.execute(f"ATTACH {sql_literal(str(tmp))} AS {_ALIAS} (READ_WRITE)")
            try:
                con.execute("BEGIN TRANSACTION")  # one read of the warehouse: the tables agree with each other
                try:
                    for (table,) in con.execute(query_sql("snapshot_tables")).fetchall():
                        left_out = LEFT_OUT_COLUMNS.get(table)
                        columns = f"* EXCLUDE ({', '.join(_quoted(c) for c in left_out)})" if left_out else "*"
                        con.execute(f"CREATE TABLE {_ALIAS}.{_quoted(table)} AS "
                                    f"SELECT {columns} FROM {_quoted(main)}.main.{_quoted(table)}")
                    con.execute(f"USE {_ALIAS}")  # the views bind to the snapshot's own tables
                    con.execute(views_sql())
                    con.execute(f"USE {_quoted(main)}")
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
            finally:
                con.execute(f"USE {_quoted(main)}")
                con.execute(f"DETACH {_ALIAS}")
        os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise
    return Snapshot(target, datetime.fromtimestamp(target.stat().st_mtime, UTC))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _remove(tmp: Path) -> None:
    for path in (tmp, tmp.with_name(tmp.name + ".wal")):
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _remove_leftovers(target: Path) -> None:
    """Temporary files of publishes whose process is gone (killed part-way)."""
    for tmp in target.parent.glob(f".{target.name}.*.tmp"):
        pid = tmp.name[len(target.name) + 2:-len(".tmp")]
        if pid.isdigit() and int(pid) != os.getpid() and not alive(int(pid)):
            _remove(tmp)


# Publishes in the background: one thread per database file at a time (by resolved path), and
# whether another publish was asked for while it ran.
_RUNNING: dict[str, threading.Thread] = {}
_AGAIN: set[str] = set()
_LOCK = threading.Lock()


def publish_soon(db: str | Path) -> None:
    """Publish the snapshot of `db` in a background thread and return at once. A publish asked for
    while one runs is done once more after it (it then covers every store before it). A publish
    that fails is logged as a warning: the previous snapshot stays."""
    key = str(Path(db).resolve())
    with _LOCK:
        if key in _RUNNING:
            _AGAIN.add(key)
            return
        thread = threading.Thread(target=_publishing, args=(key,), name=f"snapshot:{Path(db).name}", daemon=False)
        _RUNNING[key] = thread
        thread.start()


def _publishing(key: str) -> None:
    while True:
        try:
            publish(key)
        except Exception as exc:
            log.warning("could not publish the analysts' snapshot of %s: %s", key, " ".join(str(exc).split())[:300])
        with _LOCK:
            if key in _AGAIN:
                _AGAIN.discard(key)
                continue
            del _RUNNING[key]
            return


def await_publish(db: str | Path | None = None, timeout: float | None = None) -> bool:
    """Wait for this process's background publish of `db` (every file: None); False on a timeout."""
    key = str(Path(db).resolve()) if db is not None else None
    with _LOCK:
        threads = [t for k, t in _RUNNING.items() if key is None or k == key]
    for thread in threads:
        if thread is not threading.current_thread():
            thread.join(timeout)
    return not any(t.is_alive() for t in threads)
