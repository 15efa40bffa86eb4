"""SIGINT and SIGTERM stop `check`, `check-claim` and `batch` within seconds: the run is recorded
as cancelled, nothing half-written stays, the exit code is 130 / 143, nothing is left running."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
STOP_WITHIN_S = 10.0


def corpus_sentences() -> list[str]:
    out = []
    for f in sorted((EXAMPLES / "corpus").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["text"]
            out += [s.strip().rstrip(".") + "." for s in text.split(". ") if len(s.strip()) > 30]
    return out


def variants(sentences: list[str]) -> list[str]:
    """Each sentence and up to three altered copies (distinct claims: much work, none of it cached),
    so that a run is still at work when the signal comes, even on a fast machine."""
    out = []
    for s in sentences:
        out += [s, s.replace(" was ", " was not ", 1), s.replace(" is ", " is not ", 1), s.replace("The ", "A ", 1)]
    return list(dict.fromkeys(out))


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    """A warehouse with the example corpus, and an environment with empty caches (nothing is
    answered from a cache, so a run takes long enough to be stopped part-way)."""
    tmp = tmp_path_factory.mktemp("signals")
    env = {**os.environ, "FACTLEDGER_HOME": str(tmp / "home")}
    db = tmp / "ledger.duckdb"
    subprocess.run([str(BIN / "factledger"), "corpus", "add", str(EXAMPLES / "corpus"), "--db", str(db)],
                   check=True, capture_output=True, timeout=600, env=env)
    return tmp, db, env


def q(db: Path, sql: str, params=()) -> list[tuple]:
    from warehouse.db import connect

    con = connect(db, read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def counts(db: Path) -> dict[str, int]:
    return {t: q(db, f"SELECT count(*) FROM {t}")[0][0]
            for t in ("articles", "claims", "sources", "passages", "evidence", "verdicts")}


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def stop(proc: subprocess.Popen, signum: int) -> float:
    """Send `signum`; the seconds until the process ended."""
    started = time.monotonic()
    proc.send_signal(signum)
    try:
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return time.monotonic() - started


def nothing_left_running(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)  # any process of the command's session still there (the temporary Prefect server)?
    except ProcessLookupError:
        return True
    return False


def start(argv: list[str], env: dict, err: Path, *, terminal: bool = False, out: Path | None = None) -> subprocess.Popen:
    """Run the command. With `terminal`, its stderr is a pseudo-terminal (120 columns), as a user's
    would be, so the progress bar shows; what it writes there is copied to `err`. Its stdout goes
    to `out` (default: nowhere)."""
    if out is not None:
        with out.open("w") as stdout:
            return _start(argv, env, err, terminal=terminal, stdout=stdout)
    return _start(argv, env, err, terminal=terminal, stdout=subprocess.DEVNULL)


def _start(argv: list[str], env: dict, err: Path, *, terminal: bool, stdout) -> subprocess.Popen:
    if not terminal:
        with err.open("w") as fh:
            return subprocess.Popen([str(BIN / "factledger"), *argv], env=env, stdout=stdout, stderr=fh,
                                    start_new_session=True)
    import fcntl
    import pty
    import struct
    import termios
    import threading

    err.write_bytes(b"")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen([str(BIN / "factledger"), *argv], env=env, stdout=stdout, stderr=slave,
                            start_new_session=True)
    os.close(slave)

    def copy() -> None:
        with err.open("ab") as fh:
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: every process holding the terminal has ended
                    break
                if not chunk:
                    break
                fh.write(chunk)
                fh.flush()
        os.close(master)

    threading.Thread(target=copy, name="pty-copy", daemon=True).start()
    return proc


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def screen(err: Path) -> str:
    """What a terminal shows of `err`, line by line: colour and cursor codes dropped, each line as
    last drawn (a bar redraws its line after a carriage return)."""
    raw = _ANSI.sub("", err.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(line.rstrip("\r").split("\r")[-1] for line in raw.split("\n"))  # a terminal ends lines \r\n


def claims_being_checked(err: Path) -> bool:
    """The progress bar shows claims being checked: their evidence searched or weighed."""
    text = screen(err)
    return "claims checked" in text and ("searching evidence" in text or "weighing the evidence" in text)


def assert_cancelled(db: Path, flow_name: str, signame: str, stderr: str, before: dict[str, int]) -> str:
    rows = q(db, "SELECT run_id, status, error, finished_at IS NOT NULL FROM runs WHERE flow_name = ?", [flow_name])
    assert len(rows) == 1, rows
    run_id, status, error, finished = rows[0]
    assert (status, error, finished) == ("cancelled", f"cancelled: {signame}", True)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[-1] == f"Error: stopped by {signame}; run cancelled, nothing half-written stored: {run_id}"
    # nothing else but the progress bar's lines (no traceback, no log lines)
    assert [line for line in lines if "claims checked" not in line] == [lines[-1]]
    for table in ("claims", "evidence", "verdicts", "sources", "passages"):  # no row of the cancelled run
        assert q(db, f"SELECT count(*) FROM {table} WHERE run_id = ?", [run_id]) == [(0,)], table
    return run_id


def test_sigterm_stops_check_claim_and_records_it_cancelled(ledger):
    tmp, db, env = ledger
    claims = tmp / "claims.txt"
    claims.write_text("\n".join(variants(corpus_sentences())) + "\n")
    before = counts(db)
    err = tmp / "check-claim.err"
    proc = start(["check-claim", "--from", str(claims), "--db", str(db)], env, err, terminal=True)
    wait_for(lambda: claims_being_checked(err) or proc.poll() is not None, 300, "claims being checked")
    assert proc.poll() is None, screen(err)[-2000:]
    seconds = stop(proc, signal.SIGTERM)
    assert proc.returncode == 143, screen(err)[-2000:]
    assert seconds < STOP_WITHIN_S
    wait_for(lambda: "Error:" in screen(err), 5, "the last line to be copied")
    assert_cancelled(db, "check-claim", "SIGTERM", screen(err), before)
    assert counts(db) == before
    wait_for(lambda: nothing_left_running(proc.pid), 10, "the command's processes to end")


def test_sigint_stops_check_of_an_article(ledger):
    tmp, db, env = ledger
    article = tmp / "long_article.md"
    article.write_text("# Landmarks and wars\n\n" + " ".join(variants(corpus_sentences())) + "\n", encoding="utf-8")
    before = counts(db)
    err = tmp / "check.err"
    proc = start(["check", str(article), "--db", str(db)], env, err, terminal=True)
    wait_for(lambda: claims_being_checked(err) or proc.poll() is not None, 300, "claims being checked")
    assert proc.poll() is None, screen(err)[-2000:]
    seconds = stop(proc, signal.SIGINT)
    assert proc.returncode == 130, screen(err)[-2000:]
    assert seconds < STOP_WITHIN_S
    wait_for(lambda: "Error:" in screen(err), 5, "the last line to be copied")
    assert_cancelled(db, "check-article", "SIGINT", screen(err), before)
    assert counts(db) == before  # not even the article: it is stored with its results, in one transaction
    wait_for(lambda: nothing_left_running(proc.pid), 10, "the command's processes to end")


def test_sigterm_stops_a_batch_between_whole_articles(ledger):
    tmp, db, env = ledger
    sentences = variants(corpus_sentences())
    files = []
    for i in range(4):
        f = tmp / f"batch_{i}.md"
        part = sentences[i::4]
        f.write_text(f"# Story {i}\n\n" + " ".join(part) + "\n", encoding="utf-8")
        files.append(str(f))
    urls = tmp / "list.txt"
    urls.write_text("\n".join(files) + "\n")
    err = tmp / "batch.err"
    proc = start(["batch", "--url-list", str(urls), "--db", str(db)], env, err)

    def batch_begun() -> bool:
        try:
            return q(db, "SELECT count(*) FROM runs WHERE flow_name = 'batch'")[0][0] == 1
        except Exception:  # the batch holds the write lock for a moment
            return proc.poll() is not None
    wait_for(batch_begun, 300, "the batch run to be recorded")
    assert proc.poll() is None, err.read_text()[-2000:]
    time.sleep(1)
    seconds = stop(proc, signal.SIGTERM)
    assert proc.returncode == 143, err.read_text()[-2000:]
    assert seconds < STOP_WITHIN_S
    (run_id, status, error), = q(db, "SELECT run_id, status, error FROM runs WHERE flow_name = 'batch'")
    assert (status, error) == ("cancelled", "cancelled: SIGTERM")
    assert err.read_text().splitlines()[-1].startswith("Error: stopped by SIGTERM; run cancelled")
    # Articles stored before the stop are whole (run completed, claims and verdicts there); no run is left running.
    children = q(db, "SELECT r.status, count(DISTINCT c.claim_id), count(DISTINCT v.claim_id) FROM runs r "
                     "JOIN articles a USING (run_id) JOIN claims c ON c.article_id = a.article_id "
                     "LEFT JOIN verdicts v ON v.claim_id = c.claim_id AND v.run_id = r.run_id "
                     "WHERE a.ref LIKE '%batch_%' GROUP BY r.run_id, r.status")
    assert all(status == "completed" and n > 0 and n == verdicts for status, n, verdicts in children), children
    assert q(db, "SELECT count(*) FROM runs WHERE status = 'running'") == [(0,)]
    checked = q(db, "SELECT count(*) FROM batch_items WHERE run_id = ? AND status = 'checked'", [run_id])[0][0]
    assert checked == len(children)
    wait_for(lambda: nothing_left_running(proc.pid), 10, "the command's processes to end")
