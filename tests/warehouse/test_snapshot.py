"""The analysts' snapshot (`warehouse.snapshot`): published beside the warehouse after each store,
replaced atomically, read by `factledger sql` while a writer holds the file (issue 24)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from tests.conftest import ROOT
from tests.warehouse.test_exports import checked_db  # noqa: F401 -- a warehouse with a checked article
from warehouse.db import connect
from warehouse.snapshot import await_publish, publish, publish_soon, snapshot_path
from warehouse.store import RunInfo, start_run

BIN = Path(sys.executable).parent
HOLD = "import sys; from warehouse.db import connect; c = connect(sys.argv[1]); print('holding', flush=True); sys.stdin.read()"


@contextmanager
def writer_holding(db: Path) -> Iterator[None]:
    """Another process with `db` open as its writer (as a batch or `corpus add` has it) until the block ends."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "holding"
        yield
    finally:
        proc.stdin.close()
        proc.wait(30)


def sql(db: Path, query: str) -> subprocess.CompletedProcess:
    # a wait limit, not a timing check: a reader that waited for the lock would wait 60 s
    return subprocess.run([str(BIN / "factledger"), "sql", query, "--db", str(db), "--format", "json"],
                          capture_output=True, text=True, timeout=30, cwd=ROOT)


def new_run(db: Path) -> str:
    run_id = f"later-{uuid.uuid4()}"
    con = connect(db)
    try:
        start_run(con, RunInfo(run_id, "check-claim", "test", "e", "1", "s", "1", "c", "sm", ("corpus",)))
    finally:
        con.close()
    return run_id


def test_sql_reads_the_snapshot_while_a_writer_holds_the_database(checked_db):
    db, _ = checked_db
    publish(db)
    query = "SELECT run_id, claim_id, label FROM latest_verdicts ORDER BY claim_id"
    live = sql(db, query)
    assert live.returncode == 0 and live.stderr == "", live.stderr
    published = json.loads(live.stdout)
    assert published  # verdicts stored before the publish
    later = new_run(db)  # stored after the last publish: not in the snapshot
    with writer_holding(db):
        proc = sql(db, query)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == published
        note = proc.stderr.splitlines()
        assert len(note) == 1 and note[0].startswith(f"note: {db} is held by a writer; reading its snapshot published ")
        assert note[0].endswith(f"({snapshot_path(db)})")
        runs = sql(db, "SELECT run_id FROM runs")
        assert later not in {r["run_id"] for r in json.loads(runs.stdout)}
        snapshot_path(db).rename(db.with_name("away"))
        try:
            refused = sql(db, "SELECT 1")
        finally:
            db.with_name("away").rename(snapshot_path(db))
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == (f"Error: database held by a writer (another process) and no snapshot published beside "
                              f"it ({snapshot_path(db).name}): {db}\n")
    assert later in {r["run_id"] for r in json.loads(sql(db, "SELECT run_id FROM runs").stdout)}  # the live file again


def test_the_snapshot_is_replaced_atomically_under_an_open_reader(checked_db):
    db, _ = checked_db
    publish(db)
    reader = duckdb.connect(str(snapshot_path(db)), read_only=True)
    try:
        before = reader.execute("SELECT count(*) FROM runs").fetchone()[0]
        new_run(db)
        publish(db)  # a new file renamed over the one the reader has open
        assert reader.execute("SELECT count(*) FROM runs").fetchone()[0] == before  # still reading the old one
        assert reader.execute("SELECT count(*) FROM verdict_evidence").fetchone()[0] > 0
    finally:
        reader.close()
    fresh = subprocess.run([sys.executable, "-c", "import duckdb, sys; print(duckdb.connect(sys.argv[1], read_only=True)"
                            ".execute('SELECT count(*) FROM runs').fetchone()[0])", str(snapshot_path(db))],
                           capture_output=True, text=True, timeout=60)
    assert int(fresh.stdout) == before + 1, fresh.stderr  # a new reader opens the new one
    assert sorted(p.name for p in db.parent.iterdir() if "snapshot" in p.name) == [snapshot_path(db).name]


def test_the_views_work_in_the_snapshot_and_the_embeddings_are_left_out(checked_db):
    db, _ = checked_db
    publish(db)
    live, snap = connect(db, read_only=True), duckdb.connect(str(snapshot_path(db)), read_only=True)
    try:
        views = [v for (v,) in live.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal "
                                            "AND schema_name = 'main' ORDER BY 1").fetchall()]
        assert {"verdict_evidence", "verdict_provenance", "latest_verdicts", "verdicts_current", "review_queue",
                "run_summary", "claims_per_article", "sources_by_domain", "source_changes"} <= set(views)
        for view in views:  # the same columns and rows (counted: review_queue's priority follows the clock)
            query = f"SELECT * FROM {view}"
            seen, expected = snap.execute(query), live.execute(query)
            assert [d[0] for d in seen.description] == [d[0] for d in expected.description], view
            assert len(seen.fetchall()) == len(expected.fetchall()), view
        as_of = "SELECT count(*) FROM verdicts_as_of(TIMESTAMP '2999-01-01')"
        assert snap.execute(as_of).fetchone() == live.execute(as_of).fetchone() != (0,)
        columns = [c for (c,) in snap.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'passages'")
                   .fetchall()]
        assert "embedding" not in columns and "text" in columns
        assert snap.execute("SELECT count(*) FROM passages").fetchone() == live.execute(
            "SELECT count(*) FROM passages").fetchone()
        tables = {t for (t,) in snap.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert {"runs", "claims", "verdicts", "evidence", "sources", "passages", "reviews"} <= tables
        assert "passage_search" not in tables
    finally:
        live.close()
        snap.close()


def test_publishes_in_the_background_take_turns_and_a_killed_ones_file_is_removed(checked_db):
    db, _ = checked_db
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = db.with_name(f".{snapshot_path(db).name}.{dead.pid}.tmp")
    leftover.write_bytes(b"half a snapshot")
    later = new_run(db)
    for _ in range(3):  # asked for three times: one publish, then one more that covers them all
        publish_soon(db)
    assert await_publish(db, timeout=60)
    snap = duckdb.connect(str(snapshot_path(db)), read_only=True)
    try:
        assert snap.execute("SELECT count(*) FROM runs WHERE run_id = ?", [later]).fetchone() == (1,)
    finally:
        snap.close()
    assert not leftover.exists()
    con = connect(db)  # a writer after the publish: the file is free again in this process
    con.close()


def test_sql_names_a_missing_database(tmp_path):
    proc = sql(tmp_path / "no.duckdb", "SELECT 1")
    assert proc.returncode == 1 and proc.stderr == f"Error: no such database: {tmp_path / 'no.duckdb'}\n"


def test_a_later_publish_adds_the_new_passages_and_an_outdated_snapshot_is_built_anew(checked_db):
    from tests.warehouse.test_db import _one_source
    from warehouse.store import store_sources

    db, _ = checked_db
    publish(db)
    sources, passages = _one_source()  # a source and passage the corpus does not have
    con = connect(db)
    try:
        store_sources(con, "later", sources, passages)
    finally:
        con.close()
    publish(db)  # from the previous snapshot: the new passage added to its copy

    def snapshot_rows(query: str) -> list[tuple]:
        snap = duckdb.connect(str(snapshot_path(db)), read_only=True)
        try:
            return snap.execute(query).fetchall()
        finally:
            snap.close()

    live = connect(db, read_only=True)
    try:
        everything = sorted(live.execute("SELECT passage_id, text FROM passages").fetchall())
    finally:
        live.close()
    assert sorted(snapshot_rows("SELECT passage_id, text FROM passages")) == everything
    assert snapshot_rows(f"SELECT count(*) FROM sources WHERE source_id = '{sources[0].source_id}'") == [(1,)]
    older = duckdb.connect(str(snapshot_path(db)))  # as if an older version had published it
    try:
        older.execute("DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)")
        older.execute("UPDATE passages SET text = 'changed' WHERE passage_id = ?", [passages[0].passage_id])
    finally:
        older.close()
    publish(db)
    assert sorted(snapshot_rows("SELECT passage_id, text FROM passages")) == everything  # built anew
    snapshot_path(db).write_bytes(b"not a database")
    publish(db)
    assert sorted(snapshot_rows("SELECT passage_id, text FROM passages")) == everything
