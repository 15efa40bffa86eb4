"""`factledger sql` is for reading: every way of writing, reading files or changing settings is refused."""

from __future__ import annotations

import json

import pytest

from factledger.cli import main
from tests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    db = tmp_path_factory.mktemp("ro") / "ro.duckdb"
    assert main(["corpus", "add", str(EXAMPLES / "corpus" / "landmarks.jsonl"), "--db", str(db)]) == 0
    return db


def counts(db, capsys):
    capsys.readouterr()
    assert main(["sql", "SELECT (SELECT count(*) FROM passages) AS p, (SELECT count(*) FROM runs) AS r, "
                 "(SELECT count(*) FROM duckdb_tables()) AS t", "--db", str(db), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("query", [
    "INSERT INTO runs (run_id, flow_name, started_at, status, code_version) VALUES ('x', 'f', now(), 's', 'v')",
    "UPDATE passages SET text = 'changed'",
    "DELETE FROM passages",
    "CREATE TABLE notes (a INT)",
    "DROP TABLE passages",
    "ALTER TABLE runs ADD COLUMN x INT",
    "ATTACH '/tmp/other.duckdb' AS other",
    "COPY passages TO '/tmp/leak.csv'",
    "COPY (SELECT * FROM passages) TO '/tmp/leak.parquet' (FORMAT parquet)",
    "INSTALL httpfs",
    "LOAD fts",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_parquet('/tmp/anything.parquet')",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "RESET enable_external_access",
    "PRAGMA enable_profiling",
    "CHECKPOINT",
    "SELECT 1; DROP TABLE passages",
    "EXPORT DATABASE '/tmp/dump'",
])
def test_refused_with_one_line_error(ledger, query, capsys):
    before = counts(ledger, capsys)
    assert main(["sql", query, "--db", str(ledger)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and err.count("\n") == 1, err
    assert counts(ledger, capsys) == before


def test_reading_works(ledger, capsys):
    capsys.readouterr()
    assert main(["sql", "SELECT title FROM sources ORDER BY title LIMIT 1", "--db", str(ledger), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "title"
