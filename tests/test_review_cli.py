"""`factledger review` in this process (no service running): the queue, a review, the one-line
refusals (exit code 2, nothing written), the stale case, and `export --view verdicts_current`."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from factledger.cli import main
from tests.conftest import ROOT
from tests.reviewdesk import Machine, check, claim_id, passage_ids
from warehouse.db import connect

EIFFEL = "The Eiffel Tower was completed in 1889."
MOON = "The Moon is made of cheese."


@pytest.fixture()
def desk(tmp_path, monkeypatch):
    """A warehouse with two checked claims, both waiting for review; no service for it."""
    monkeypatch.setenv("FACTLEDGER_HOME", str(tmp_path / "home"))
    db = tmp_path / "desk.duckdb"
    con = connect(db)
    run = check(con, Machine(EIFFEL, "supported", 0.5, needs_review=True, passages=("It opened in 1889.", "Other.")),
                Machine(MOON, "conflicting", 0.6, checkworthiness=0.5))
    con.close()
    return {"db": db, "run": run}


def sql(db, query, capsys):
    capsys.readouterr()
    assert main(["sql", query, "--db", str(db), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_queue_then_a_review_then_verdicts_current(desk, capsys):
    db = desk["db"]
    assert main(["review", "--queue", "--db", str(db), "--format", "json"]) == 0
    queue = json.loads(capsys.readouterr().out)
    assert [q["claim_id"] for q in queue] == [claim_id(EIFFEL), claim_id(MOON)]  # 1 x 0.5 before 0.5 x 0.4
    assert queue[0]["reasons"] == ["needs_review"] and queue[1]["reasons"] == ["conflicting"]
    assert main(["review", "--queue", "--db", str(db)]) == 0
    table = capsys.readouterr().out
    assert claim_id(EIFFEL) in table and "needs_review" in table and "conflicting" in table

    assert main(["review", claim_id(EIFFEL), "--verdict", "refuted", "--note", "Finished in March 1889, opened May.",
                 "--reviewer", "ana", "--relied", "#1", "--rejected", "2", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("review ")
    assert f"claim {claim_id(EIFFEL)} supported -> refuted (overruled; run {desk['run']}, " in out
    assert "reviewer ana" in out and out.count("\n") == 1
    (row,) = sql(db, f"SELECT label, decided_by, reviewer, machine_label FROM verdicts_current "
                     f"WHERE claim_id = '{claim_id(EIFFEL)}'", capsys)
    assert row == {"label": "refuted", "decided_by": "reviewer", "reviewer": "ana", "machine_label": "supported"}
    con = connect(db, read_only=True)
    ids = passage_ids(con, EIFFEL, desk["run"])
    assert con.execute("SELECT relied_passages, rejected_passages FROM reviews").fetchall() == [([ids[0]], [ids[1]])]
    con.close()
    assert main(["review", "--queue", "--db", str(db), "--format", "json"]) == 0
    assert [q["claim_id"] for q in json.loads(capsys.readouterr().out)] == [claim_id(MOON)]

    assert main(["review", claim_id(EIFFEL), "--verdict", "supported", "--note", "Second opinion.", "--reviewer",
                 "bo", "--db", str(db), "--format", "json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["supersedes"] and second["label"] == "supported" and second["reviewer"] == "bo"
    history = sql(db, f"SELECT decided_by, label, reviewer FROM verdict_history WHERE claim_id = '{claim_id(EIFFEL)}' "
                      "ORDER BY checked_at", capsys)
    assert [(h["decided_by"], h["label"], h["reviewer"]) for h in history] == [
        ("model", "supported", None), ("reviewer", "refuted", "ana"), ("reviewer", "supported", "bo")]


def test_export_view_verdicts_current(desk, tmp_path, capsys):
    db = desk["db"]
    assert main(["review", claim_id(MOON), "--verdict", "refuted", "--note", "It is rock.", "--db", str(db)]) == 0
    out = tmp_path / "current.csv"
    assert main(["export", "--view", "verdicts_current", "--out", str(out), "--db", str(db)]) == 0
    assert "2 rows written" in capsys.readouterr().out
    rows = {r["claim_id"]: r for r in csv.DictReader(out.open())}
    assert (rows[claim_id(MOON)]["label"], rows[claim_id(MOON)]["decided_by"]) == ("refuted", "reviewer")
    assert rows[claim_id(MOON)]["reviewer"]  # the login name when --reviewer is not given
    assert (rows[claim_id(EIFFEL)]["label"], rows[claim_id(EIFFEL)]["decided_by"]) == ("supported", "model")


@pytest.mark.parametrize("argv, names", [
    (["nope-not-a-claim", "--verdict", "refuted", "--note", "n"], "no such claim: nope-not-a-claim"),
    ([claim_id(EIFFEL), "--verdict", "false", "--note", "n"], "unknown verdict label (choose from"),
    ([claim_id(EIFFEL), "--verdict", "refuted"], "needs a note"),
    ([claim_id(EIFFEL), "--note", "n"], f"no verdict given for claim {claim_id(EIFFEL)}"),
    ([claim_id(EIFFEL), "--verdict", "refuted", "--note", "n", "--run", "run-x"], "run run-x gave no verdict"),
    ([claim_id(EIFFEL), "--verdict", "refuted", "--note", "n", "--relied", "#9"], "#9"),
    (["--queue", claim_id(EIFFEL)], "--queue lists the queue; it takes no CLAIM_ID"),
    ([], "no claim given"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(desk, capsys, argv, names):
    assert main(["review", *argv, "--db", str(desk["db"])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and names in err and err.count("\n") == 1, err
    if "false" in argv:
        assert err.rstrip().endswith(": false")  # the label given is named
    con = connect(desk["db"], read_only=True)
    assert con.execute("SELECT count(*) FROM reviews").fetchone() == (0,)
    con.close()


def test_a_missing_database_is_refused(tmp_path, capsys):
    assert main(["review", "--queue", "--db", str(tmp_path / "none.duckdb")]) == 2
    assert "no such database" in capsys.readouterr().err
    assert not (tmp_path / "none.duckdb").exists()


def test_a_review_of_a_verdict_since_rechecked_says_so(desk, capsys):
    db = desk["db"]
    con = connect(db)
    run2 = check(con, Machine(EIFFEL, "refuted", 0.7, passages=("It opened in 1889.",)))
    con.close()
    code = main(["review", claim_id(EIFFEL), "--verdict", "refuted", "--note", "n", "--run", desk["run"], "--db", str(db)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "re-checked" in err and f"--run {run2}" in err, err
    assert sql(db, "SELECT count(*) AS n FROM reviews", capsys) == [{"n": 0}]
    assert main(["review", claim_id(EIFFEL), "--verdict", "refuted", "--note", "n", "--run", run2, "--db", str(db)]) == 0
    assert f"run {run2}" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["review", "--queue"], ["review", "CLAIM", "--verdict", "refuted", "--note", "n"]])
def test_review_stays_light(desk, argv):
    """`factledger review` imports neither the models nor Prefect."""
    heavy = ("torch", "transformers", "prefect", "spacy", "sentence_transformers", "trafilatura", "rich")
    argv = [claim_id(EIFFEL) if a == "CLAIM" else a for a in argv] + ["--db", str(desk["db"])]
    script = ("import json, sys\nfrom factledger.cli import main\n"
              f"code = main({argv!r})\n"
              f"print(json.dumps([code, sorted(m for m in {heavy!r} if m in sys.modules)]))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    code, loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert code == 0, proc.stderr
    assert loaded == []
