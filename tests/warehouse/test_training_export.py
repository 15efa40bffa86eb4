"""`factledger export --format training`: the reviewed (claim, passage, label) pairs in the
nli-train schema, from each claim's current review only."""

from __future__ import annotations

import json

from factledger.cli import main
from tests.conftest import SHARED, need_shared
from tests.reviewdesk import Machine, check, claim_id, passage_ids
from warehouse.reviews import record_review

P = ("First passage about it.", "Second passage, off topic.", "Third passage.")
TEXTS = {"a": "Claim A is true.", "b": "Claim B is false.", "c": "Claim C is disputed.", "d": "Claim D was reviewed twice.",
         "e": "Claim E was never reviewed."}


def test_reviewed_pairs_in_the_nli_train_schema(db, db_path, tmp_path, capsys):
    run = check(db, *(Machine(t, "supported", 0.5, passages=P) for t in TEXTS.values()))
    record_review(db, claim_id(TEXTS["a"]), "supported", "n", "ana", relied=["1"], rejected=["2"])
    record_review(db, claim_id(TEXTS["b"]), "refuted", "n", "ana", relied=["#1", "#3"])
    record_review(db, claim_id(TEXTS["c"]), "conflicting", "n", "ana", relied=["1"], rejected=["2"])
    record_review(db, claim_id(TEXTS["d"]), "supported", "n", "ana", relied=["1"])
    record_review(db, claim_id(TEXTS["d"]), "not_enough_evidence", "n", "bo", relied=["3"])  # supersedes
    db.close()
    out = tmp_path / "reviews.jsonl"
    assert main(["export", "--format", "training", "--out", str(out), "--db", str(db_path)]) == 0
    assert capsys.readouterr().out == f"6 rows written to {out}\n"
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows) and len({r["id"] for r in rows}) == 6
    assert {tuple(sorted(r)) for r in rows} == {("dataset", "hypothesis", "id", "label", "label_orig", "premise",
                                                 "split")}
    got = sorted((r["hypothesis"], r["premise"], r["label"], r["label_orig"]) for r in rows)
    assert got == sorted([
        (TEXTS["a"], P[0], "entailment", "supported"), (TEXTS["a"], P[1], "neutral", "rejected"),
        (TEXTS["b"], P[0], "contradiction", "refuted"), (TEXTS["b"], P[2], "contradiction", "refuted"),
        (TEXTS["c"], P[1], "neutral", "rejected"),  # a passage relied on for `conflicting` settles nothing alone
        (TEXTS["d"], P[2], "neutral", "not_enough_evidence"),  # only the current review of D
    ])
    assert {r["dataset"] for r in rows} == {"factledger-reviews"}
    from warehouse.db import connect

    con = connect(db_path, read_only=True)
    ids = passage_ids(con, TEXTS["a"], run)
    con.close()
    assert f"factledger-reviews:review:{claim_id(TEXTS['a'])}:{ids[0]}" in {r["id"] for r in rows}


def test_the_fields_are_those_of_the_shared_training_data(db, db_path, tmp_path, capsys):
    sample = need_shared(SHARED / "data" / "nli-train" / "snli" / "pairs.jsonl")
    with sample.open(encoding="utf-8") as fh:
        theirs = json.loads(fh.readline())
    check(db, Machine(TEXTS["a"], "supported", 0.5, passages=P))
    record_review(db, claim_id(TEXTS["a"]), "refuted", "n", "ana", relied=["1"])
    db.close()
    out = tmp_path / "reviews.jsonl"
    assert main(["export", "--format", "training", "--out", str(out), "--db", str(db_path)]) == 0
    (ours,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert set(ours) == set(theirs) and ours["label"] in {"entailment", "neutral", "contradiction"}
    capsys.readouterr()


def test_no_reviews_no_pairs(db, db_path, tmp_path, capsys):
    check(db, Machine(TEXTS["e"], "supported", 0.5, passages=P))
    db.close()
    out = tmp_path / "none.jsonl"
    assert main(["export", "--format", "training", "--out", str(out), "--db", str(db_path)]) == 0
    assert out.read_text() == "" and "0 rows written" in capsys.readouterr().out
