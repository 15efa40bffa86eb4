"""flows.stopping: what a signal turns into, without a subprocess."""

from __future__ import annotations

import threading

import pytest

from factledger.errors import Cancelled


@pytest.fixture()
def stopping():
    from flows import stopping

    stopping.reset()
    yield stopping
    stopping.reset()


def test_a_stop_is_seen_at_the_next_check(stopping):
    stopping.check_stop()
    stopping.request_stop("SIGTERM")
    stopping.request_stop("SIGINT")  # the first signal names the stop
    with pytest.raises(Cancelled, match="stopped by SIGTERM"):
        stopping.check_stop()
    assert stopping.stop_signal() == "SIGTERM"


def test_open_runs_are_recorded_cancelled_with_a_reader_still_open(stopping, tmp_path):
    from warehouse.db import connect
    from warehouse.store import RunInfo, start_run

    db = tmp_path / "stop.duckdb"
    con = connect(db)
    for run_id in ("begun", "done"):
        start_run(con, RunInfo(run_id, "check-claim", "t", "e", "1", "s", "1", "c", "sp", ("corpus",)))
    con.close()
    stopping.run_begun("begun", str(db))
    stopping.run_begun("done", str(db))
    stopping.finished("done", "completed")
    with stopping.reading(db) as reader:  # a step stuck in a model call holds one: it would keep the writer out
        cancelled, missed = stopping.cancel_open_runs("SIGTERM", wait=1.0)
    assert (cancelled, missed) == (["begun"], [])
    assert stopping.ended_runs() == {"done": "completed", "begun": "cancelled"}
    con = connect(db, read_only=True)
    assert con.execute("SELECT run_id, status, error FROM runs ORDER BY run_id").fetchall() == [
        ("begun", "cancelled", "cancelled: SIGTERM"), ("done", "running", None)]
    con.close()
    # The lock is kept: no write of a run can start after the cancellation was recorded.
    blocked = threading.Event()

    def write():
        with stopping.writing():
            blocked.set()
    t = threading.Thread(target=write, daemon=True)
    t.start()
    t.join(0.5)
    assert t.is_alive() and not blocked.is_set()
    stopping.reset()  # gives the lock back
    t.join(2.0)
    assert blocked.is_set()
