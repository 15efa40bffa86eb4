"""The analysts' snapshot: a read-only copy of the warehouse, published beside it by the writer.

DuckDB lets one process hold a database file while it writes, and a second process cannot open it
then, not even read-only. So after each store (a check's results, a batch article, a review, a
corpus added) a writer that goes on holding the file publishes `<db>.snapshot` (`snapshot_path`; a
one-shot local check does not, `flows.steps.store_claims`): it reads the warehouse
through a read-only connection, ATTACHes a temporary file beside it (a copy of the previous
snapshot), brings the tables up to date in one transaction, re-creates the views and macros there
(views.sql), DETACHes it and renames it over the previous snapshot (`os.replace`, atomic): a reader
that has the old snapshot open keeps reading it, the next one opens the new. `factledger sql` reads
the live file when it can have it at once, else the newest snapshot
(`warehouse.analyst.open_for_analysis`).

Left out, to keep the publish short: `passages.embedding` (FLOAT[384], most of the file) and
`passage_search` with the BM25 index (the corpus provider's search structures). On the 146,107-passage
benchmark corpus (2 cores) a copy of everything took 13.0 s and 395 MB; without those, built anew,
0.7-0.8 s and 53 MB (1.2-1.8 s while other work loaded the machine); from the previous snapshot, which
copies only the new rows of the corpus tables (`GROWING`), 0.23-0.28 s on the loaded machine.
It runs in a background thread (`publish_soon`), one at a time per file and coalesced: stores
that come while one is under way are covered by one more publish after it. A writer in this process
waits for it (`await_publish`, from `warehouse.db.connect`): DuckDB allows one configuration per file
per process, and the publish holds a read-only one. The process waits for it at exit (not a daemon).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from factledger.pids import alive
from warehouse.db import opened, query_sql, sql_literal, views_sql

__all__ = ["GROWING", "LEFT_OUT_COLUMNS", "SUFFIX", "Snapshot", "await_publish", "publish", "publish_soon", "snapshot_of",
           "snapshot_path"]

log = logging.getLogger(__name__)

SUFFIX = ".snapshot"
# Columns not copied: the passages' embeddings are 400 of the 450 MB a full copy wrote at 146k passages.
LEFT_OUT_COLUMNS = {"passages": ("embedding",)}
# Tables only ever added to, one row per content hash, by key (`warehouse.store` inserts new ids
# only; nothing updates or deletes them): a publish adds their new rows to the previous snapshot's
# copy (none when the counts agree) instead of copying them again.
GROWING = {"passages": "passage_id", "sources": "source_id"}
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
    """Publish the snapshot of `db` now (see the module's docstring); returns it. The previous
    snapshot, when there is one of the same schema version, is copied and brought up to date
    (the `GROWING` tables by their new rows only); otherwise, or should that fail, it is built anew."""
    db = Path(db).resolve()
    target = snapshot_path(db)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    _remove_leftovers(target)
    try:
        try:
            _write(db, tmp, previous=target if target.exists() else None)
        except Exception as exc:  # an unreadable or outdated previous snapshot: build it anew
            if not target.exists():
                raise
            log.info("building the snapshot of %s anew: %s", db, " ".join(str(exc).split())[:300])
            _write(db, tmp, previous=None)
        os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise
    return Snapshot(target, datetime.fromtimestamp(target.stat().st_mtime, UTC))


class _Outdated(Exception):
    """The previous snapshot is of another schema version."""


def _write(db: Path, tmp: Path, previous: Path | None) -> None:
    """Write the snapshot of `db` into `tmp`: from nothing, or from a copy of `previous`."""
    _remove(tmp)
    if previous is not None:
        shutil.copyfile(previous, tmp)
    with opened(db, read_only=True) as con:
        main = _quoted(con.execute("SELECT current_database()").fetchone()[0])
        con.execute(f"ATTACH {sql_literal(str(tmp))} AS {_ALIAS} (READ_WRITE)")
        try:
            con.execute("BEGIN TRANSACTION")  # one read of the warehouse: the tables agree with each other
            try:
                if previous is not None and _version(con, _ALIAS) != _version(con, main):
                    raise _Outdated(f"schema version {_version(con, _ALIAS)}, not {_version(con, main)}")
                for (table,) in con.execute(query_sql("snapshot_tables")).fetchall():
                    _copy_table(con, main, table, incremental=previous is not None)
                con.execute(f"USE {_ALIAS}")  # the views bind to the snapshot's own tables
                con.execute(views_sql())
                con.execute(f"USE {main}")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            con.execute(f"USE {main}")
            con.execute(f"DETACH {_ALIAS}")


def _version(con, catalog: str) -> int | None:
    return con.execute(f"SELECT max(version) FROM {catalog}.main.schema_migrations").fetchone()[0]


def _copy_table(con, main: str, table: str, *, incremental: bool) -> None:
    left_out = LEFT_OUT_COLUMNS.get(table)
    columns = f"* EXCLUDE ({', '.join(_quoted(c) for c in left_out)})" if left_out else "*"
    source, copy = f"{main}.main.{_quoted(table)}", f"{_ALIAS}.{_quoted(table)}"
    key = GROWING.get(table)
    if incremental and key:
        counts = con.execute(f"SELECT (SELECT count(*) FROM {source}), (SELECT count(*) FROM {copy})").fetchone()
        if counts[0] != counts[1]:
            con.execute(f"INSERT INTO {copy} SELECT {columns} FROM {source} ANTI JOIN {copy} USING ({_quoted(key)})")
        return
    con.execute(f"DROP TABLE IF EXISTS {copy}")
    con.execute(f"CREATE TABLE {copy} AS SELECT {columns} FROM {source}")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _remove(tmp: Path) -> None:
    for path in (tmp, tmp.with_name(tmp.name + ".wal")):
        path.unlink(missing_ok=True)


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
