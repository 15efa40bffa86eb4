"""Bad input: a one-line error naming the input, a non-zero exit, and nothing stored changes."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

BIN = Path(sys.executable).parent

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
    inputs = make_inputs(tmp_path, httpserver)
    import os

    env = {**os.environ, "FACTLEDGER_ALLOW_LOOPBACK": "1", "FACTLEDGER_HOME": str(tmp_path / "home"),
           "PREFECT_HOME": str(tmp_path / "prefect")}
    before = digest(ledger)
    for name, (ref, expected) in inputs.items():
        proc = subprocess.run([str(BIN / "factledger"), "check", ref, "--db", str(ledger), "--quiet"],
                              capture_output=True, text=True, timeout=300, env=env)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
        assert proc.returncode == 1, (name, proc.stderr[-1500:])
        assert len(errors) == 1 and expected in errors[0] and ref in errors[0], (name, errors)
        assert digest(ledger) == before, f"{name} changed the database"
