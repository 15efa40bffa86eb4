"""Bad input: a one-line error naming the input, a non-zero exit, and nothing stored changes."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

BIN = Path(sys.executable).parent
# What an input error may take, process start included: ~0.1-1.2 s measured on the 2-core reference
# machine (the language check reads its model); the bound leaves room for a loaded machine.
LIGHT_S = 3.0

GERMAN = ("Die Bundesregierung hat am Mittwoch beschlossen, die Förderung für erneuerbare Energien im kommenden "
          "Jahr deutlich zu erhöhen. Nach Angaben des Ministeriums sollen dafür zusätzlich rund zwei Milliarden "
          "Euro bereitgestellt werden, vor allem für Windkraft an Land und auf See sowie für Solaranlagen auf "
          "öffentlichen Gebäuden. Kritiker bemängeln, dass der Ausbau der Stromnetze nicht Schritt halte.\n")


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    db = tmp_path_factory.mktemp("bad") / "ledger.duckdb"
    subprocess.run([str(BIN / "factledger"), "corpus", "add", str(EXAMPLES / "corpus"), "--db", str(db)],
                   check=True, capture_output=True, timeout=300)
    return db


def digest(db: Path) -> str:
    return hashlib.sha256(db.read_bytes()).hexdigest()


def make_inputs(tmp: Path, httpserver) -> dict[str, tuple[str, str]]:
    (tmp / "empty.txt").write_bytes(b"")
    (tmp / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (tmp / "invalid.txt").write_bytes(b"The caf\xe9 opened in 1998 and served coffee to the whole street.")
    (tmp / "german.txt").write_text(GERMAN * 3, encoding="utf-8")
    with (tmp / "huge.txt").open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    (tmp / "adir").mkdir()
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/missing").respond_with_data("gone", status=404, content_type="text/html")
    url = httpserver.url_for("/missing")
    return {
        "empty": (str(tmp / "empty.txt"), "empty file"),
        "binary": (str(tmp / "binary.txt"), "binary file"),
        "invalid-utf8": (str(tmp / "invalid.txt"), "not valid UTF-8"),
        "non-english": (str(tmp / "german.txt"), "does not look like English"),
        "50MB": (str(tmp / "huge.txt"), "file too large"),
        "directory": (str(tmp / "adir"), "is a directory"),
        "404": (url, "http_404"),
    }


def test_bad_articles_change_nothing(ledger, tmp_path, httpserver):
    """Refused before any model loads or Prefect starts: one line, exit code 2, in about a second."""
    inputs = make_inputs(tmp_path, httpserver)
    import os

    env = {**os.environ, "FACTLEDGER_ALLOW_LOOPBACK": "1", "FACTLEDGER_HOME": str(tmp_path / "home"),
           "PREFECT_HOME": str(tmp_path / "prefect")}
    before = digest(ledger)
    for name, (ref, expected) in inputs.items():
        started = time.monotonic()
        proc = subprocess.run([str(BIN / "factledger"), "check", ref, "--db", str(ledger), "--quiet"],
                              capture_output=True, text=True, timeout=300, env=env)
        seconds = time.monotonic() - started
        assert proc.returncode == 2, (name, proc.stderr[-1500:])
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("Error: "), (name, proc.stderr[-1500:])
        assert expected in proc.stderr and ref in proc.stderr, (name, proc.stderr)
        assert seconds < LIGHT_S, (name, seconds)
        assert digest(ledger) == before, f"{name} changed the database"
    assert not (tmp_path / "prefect").exists()  # Prefect never started


def bad_commands(tmp: Path, ledger: Path) -> dict[str, tuple[list[str], str]]:
    """command line -> what its one-line error says; each is refused before anything starts."""
    db = ["--db", str(ledger)]
    nodir = tmp / "no-such-dir"
    article = str(EXAMPLES / "sample_article.md")
    (tmp / "claims.txt").write_text("The Eiffel Tower is 330 metres tall.\nx\n", encoding="utf-8")
    return {
        "report into a missing directory": (["report", article, "--out", str(nodir / "r.html"), *db],
                                            f"output directory does not exist: {nodir / 'r.html'}"),
        "report into a directory": (["report", article, "--out", str(tmp), *db], "is a directory, not an output file"),
        "report from a missing database": (["report", article, "--out", str(tmp / "r.html"), "--db", str(tmp / "none.duckdb")],
                                           "no such database"),
        "export into a missing directory": (["export", "--out", str(nodir / "x.csv"), *db], "output directory does not exist"),
        "URL with a space": (["check", "https://exa mple.org/a", *db], "not a valid article URL (it contains spaces)"),
        "URL without a host": (["check", "https:///a", *db], "not a valid article URL (no host)"),
        "URL with a bad port": (["check", "http://example.org:99999/a", *db], "not a valid article URL"),
        "not an http URL": (["check", "ftp://example.org/a", *db], "not an http(s) article URL"),
        "database in a missing directory": (["check", article, "--db", str(nodir / "x.duckdb")],
                                            "database directory does not exist"),
        "database is a directory": (["check-claim", "The Eiffel Tower is 330 metres tall.", "--db", str(tmp)],
                                    "is a directory, not a database file"),
        "missing claims file": (["check-claim", "--from", str(tmp / "none.txt"), *db], "no such claims file"),
        "one-character claim": (["check-claim", "x", *db], "claim too short (1 character, at least 10"),
        "a short claim in a file": (["check-claim", "--from", str(tmp / "claims.txt"), *db],
                                    f"claim 2 ('x') too short (1 character, at least 10; FACTLEDGER_MIN_CLAIM_CHARS): "
                                    f"{tmp / 'claims.txt'}"),
        "urls provider without --url": (["check-claim", "The Eiffel Tower is 330 metres tall.", "--provider", "urls", *db],
                                        "the urls provider needs at least one --url"),
        "bad --url": (["check-claim", "The Eiffel Tower is 330 metres tall.", "--url", "example.org/a", *db],
                      "not an http(s) --url"),
        "batch with nothing to do": (["batch", *db], "nothing to do"),
        "batch with a missing URL list": (["batch", "--url-list", str(tmp / "none.txt"), *db], "no such URL list file"),
        "batch with a bad feed URL": (["batch", "--feed", "example.org/rss", *db], "not an http(s) feed URL"),
        "corpus add of a missing path": (["corpus", "add", str(tmp / "none.jsonl"), *db], "no such file or folder"),
    }


def test_bad_input_is_refused_at_once(ledger, tmp_path):
    """Every check of the input runs before a model loads or Prefect starts: one line naming the
    input, exit code 2, in about a second; the database is neither created nor changed."""
    import os

    env = {**os.environ, "FACTLEDGER_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect")}
    before = digest(ledger)
    for name, (argv, expected) in bad_commands(tmp_path, ledger).items():
        started = time.monotonic()
        proc = subprocess.run([str(BIN / "factledger"), *argv], capture_output=True, text=True, timeout=120, env=env)
        seconds = time.monotonic() - started
        assert proc.returncode == 2, (name, proc.stderr[-1500:])
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("Error: "), (name, proc.stderr[-1500:])
        assert expected in proc.stderr, (name, proc.stderr)
        assert seconds < LIGHT_S, (name, seconds)
    assert digest(ledger) == before
    assert not (tmp_path / "prefect").exists() and not (tmp_path / "home").exists()  # nothing started
    assert not (tmp_path / "no-such-dir").exists()


def test_debug_shows_the_traceback(tmp_path):
    proc = subprocess.run([str(BIN / "factledger"), "--debug", "report", "x", "--out", str(tmp_path / "d" / "r.html")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("Traceback (most recent call last):")
    assert proc.stderr.splitlines()[-1] == f"Error: output directory does not exist: {tmp_path / 'd' / 'r.html'}"


def test_a_missing_credibility_list_is_refused_before_anything_starts(tmp_path):
    import os

    env = {**os.environ, "FACTLEDGER_CREDIBILITY": str(tmp_path / "none.csv"), "PREFECT_HOME": str(tmp_path / "prefect")}
    proc = subprocess.run([str(BIN / "factledger"), "check-claim", "The Eiffel Tower is 330 metres tall.",
                           "--db", str(tmp_path / "x.duckdb")], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2
    assert proc.stderr == f"Error: no such credibility list (FACTLEDGER_CREDIBILITY): {tmp_path / 'none.csv'}\n"
    assert not (tmp_path / "x.duckdb").exists() and not (tmp_path / "prefect").exists()
