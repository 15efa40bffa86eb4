"""Stopping a run part-way (SIGINT, SIGTERM) without leaving anything half-written.

The CLI turns a signal into `request_stop`; the flows look at `check_stop` between steps (before
the run is recorded, between claims, before each store) and end with `Cancelled`, which records
the run as `cancelled`. Every warehouse write of a run happens under one lock (`writing`), so a
store transaction either commits whole before the stop or never starts. When a step does not come
back to a check in time (a long model call), `cancel_open_runs` takes that lock for good, closes
this process's read-only connections (which would keep a writer out of the file) and records every
run begun here and not finished as `cancelled`; the CLI then ends the process.

Plain threading and the warehouse: no Prefect here, so the CLI can reach it cheaply.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from factledger.errors import Cancelled

__all__ = ["cancel_open_runs", "cancelled_runs", "check_stop", "ended_runs", "finished", "open_runs", "reading",
           "request_stop", "reset", "run_begun", "stop_requested", "stop_signal", "withdraw_stop", "writing"]

log = logging.getLogger(__name__)

_STOP = threading.Event()
_SIGNAL: list[str] = []  # the name of the signal that asked for the stop
_WRITES = threading.RLock()  # held by each warehouse write of a run; taken for good by cancel_open_runs
_KEPT: list[bool] = []  # cancel_open_runs holds _WRITES (until `reset`, in the same thread)
_STATE = threading.Lock()  # guards the registries below
_OPEN: dict[str, str] = {}  # run id -> database path, for runs begun in this process and not finished
_CANCELLED: list[str] = []  # run ids recorded as cancelled, in order
_ENDED: dict[str, str] = {}  # run id -> the status it was recorded with (completed, failed, cancelled)
_READERS: dict[int, duckdb.DuckDBPyConnection] = {}  # read-only connections open in flows, by id


def request_stop(signal_name: str) -> None:
    """Ask every run of this process to stop at its next check (called from a signal handler, or by
    the service for the check its client cancelled). Each request is kept; the first names the stop."""
    _SIGNAL.append(signal_name)
    _STOP.set()


def withdraw_stop(signal_name: str) -> bool:
    """Forget the stop requested as `signal_name` once the run it was meant for has ended (the
    service, after a check its client cancelled), unless another stop was requested too (a
    SIGTERM meanwhile stays in force). True if the stop was withdrawn."""
    with _STATE:
        if not _SIGNAL or set(_SIGNAL) != {signal_name}:
            return False
        _SIGNAL.clear()
        _STOP.clear()
        return True


def stop_requested() -> bool:
    return _STOP.is_set()


def stop_signal() -> str:
    """The name of the signal that asked for the stop ("" when none did)."""
    return _SIGNAL[0] if _SIGNAL else ""


def check_stop() -> None:
    """Raise `Cancelled` if a stop was requested."""
    if _STOP.is_set():
        raise Cancelled(stop_signal() or "a signal")


def reset() -> None:
    """Forget a stop request and the runs recorded, and give back the run-writes lock that
    `cancel_open_runs` kept (call from the thread that called it: a new command, a test)."""
    for _ in _KEPT:
        _WRITES.release()
    _KEPT.clear()
    with _STATE:
        _STOP.clear()
        _SIGNAL.clear()
        _OPEN.clear()
        _CANCELLED.clear()
        _ENDED.clear()


@contextmanager
def writing() -> Iterator[None]:
    """Hold the run-writes lock: one write of a run (record it, store its results, finish it)."""
    with _WRITES:
        yield


def run_begun(run_id: str, db: str) -> None:
    """A run was recorded as `running` in `db` (call while `writing`)."""
    with _STATE:
        _OPEN[run_id] = db


def finished(run_id: str, status: str) -> None:
    """A run was recorded as finished with `status` (call while `writing`)."""
    with _STATE:
        _OPEN.pop(run_id, None)
        _ENDED[run_id] = status
        if status == "cancelled" and run_id not in _CANCELLED:
            _CANCELLED.append(run_id)


def open_runs() -> list[str]:
    """Runs begun in this process and not finished."""
    with _STATE:
        return list(_OPEN)


def ended_runs() -> dict[str, str]:
    """Runs of this process recorded as finished, with their status."""
    with _STATE:
        return dict(_ENDED)


def cancelled_runs() -> list[str]:
    with _STATE:
        return list(_CANCELLED)


@contextmanager
def reading(db: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection that `cancel_open_runs` may interrupt and close (it would keep the
    writer that records the cancellation out of the file)."""
    from warehouse.db import opened

    with opened(db, read_only=True) as con:
        with _STATE:
            _READERS[id(con)] = con
        try:
            yield con
        finally:
            with _STATE:
                _READERS.pop(id(con), None)


def cancel_open_runs(signal_name: str, *, wait: float = 3.0, lock_timeout: float = 2.0) -> tuple[list[str], list[str]]:
    """Record every run begun in this process and not finished as `cancelled`; return (cancelled,
    not recorded). Waits up to `wait` seconds for a write in progress to commit, then keeps the
    lock: nothing of these runs is written afterwards. Read-only connections still open (a step
    stuck in a model call holds one) are interrupted and closed first."""
    from warehouse.db import opened
    from warehouse.store import finish_run

    if not _WRITES.acquire(timeout=wait):
        with _STATE:
            return list(_CANCELLED), list(_OPEN)
    _KEPT.append(True)
    with _STATE:
        readers, open_runs = list(_READERS.values()), dict(_OPEN)
        _READERS.clear()
    for con in readers:
        try:
            con.interrupt()
            con.close()
        except duckdb.Error as exc:  # closed meanwhile
            log.debug("closing a reader: %s", exc)
    missed = []
    for run_id, db in open_runs.items():
        try:
            with opened(db, lock_timeout=lock_timeout) as con:
                finish_run(con, run_id, status="cancelled", error=f"cancelled: {signal_name}")
            finished(run_id, "cancelled")
        except Exception as exc:  # the file held by another process: say so, do not hang
            log.warning("could not record run %s as cancelled: %s", run_id, exc)
            missed.append(run_id)
    return cancelled_runs(), missed
