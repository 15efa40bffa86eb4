"""Review records: append-only reviews, the supersede rule, verdicts_current, the history views,
the stale-review rule and the review queue, on warehouses written by the real store code."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from factledger.errors import InputError
from factledger.records import Claim, Passage
from tests.reviewdesk import Machine, check, claim_id, passage_ids, source_of
from warehouse.reviews import StaleReview, record_review, review_queue

EIFFEL = "The Eiffel Tower was completed in 1889."
MOON = "The Moon is made of cheese."
PASSAGES = ("The tower was finished in March 1889.", "Paris hosted a World's Fair in 1889.", "Unrelated text.")


def rows(con, sql, params=()):
    return con.execute(sql, list(params)).fetchall()


def current(con, text):
    cur = con.execute("SELECT * FROM verdicts_current WHERE claim_id = ?", [claim_id(text)])
    return dict(zip([d[0] for d in cur.description], cur.fetchone()))


def test_a_review_decides_and_the_machine_verdict_stays(db):
    run = check(db, Machine(EIFFEL, "supported", 0.55, needs_review=True, passages=PASSAGES))
    before = current(db, EIFFEL)
    assert (before["label"], before["decided_by"], before["confidence"], before["run_id"]) == (
        "supported", "model", 0.55, run)
    review = record_review(db, claim_id(EIFFEL), "refuted", "The tower opened in 1889 but was finished later.",
                           "ana", relied=["1", "#3"], rejected=[passage_ids(db, EIFFEL, run)[1]])
    after = current(db, EIFFEL)
    assert (after["label"], after["decided_by"], after["reviewer"], after["review_id"]) == (
        "refuted", "reviewer", "ana", review.review_id)
    assert after["confidence"] is None and after["machine_label"] == "supported" and after["machine_confidence"] == 0.55
    assert after["rechecked_since_review"] is False
    ids = passage_ids(db, EIFFEL, run)
    assert rows(db, "SELECT run_id, machine_label, label, relied_passages, rejected_passages FROM reviews") == [
        (run, "supported", "refuted", [ids[0], ids[2]], [ids[1]])]
    assert rows(db, "SELECT label FROM verdicts") == [("supported",)]  # the machine's verdict is not touched
    assert rows(db, "SELECT label FROM latest_verdicts") == [("supported",)]


def test_a_later_review_supersedes_the_earlier_and_both_stay(db):
    check(db, Machine(EIFFEL, "supported", 0.9, passages=PASSAGES))
    first = record_review(db, claim_id(EIFFEL), "refuted", "first look", "ana")
    first_row = rows(db, "SELECT * FROM reviews")
    second = record_review(db, claim_id(EIFFEL), "supported", "second look: the sources agree", "bo")
    assert second.supersedes == first.review_id and first.supersedes is None
    assert rows(db, "SELECT * FROM reviews WHERE review_id = ?", [first.review_id]) == first_row  # unchanged
    history = rows(db, "SELECT review_id, label, reviewer, superseded_by, is_current, overruled FROM review_history "
                       "ORDER BY review_seq")
    assert history == [(first.review_id, "refuted", "ana", second.review_id, False, True),
                       (second.review_id, "supported", "bo", None, True, False)]
    now = current(db, EIFFEL)
    assert (now["label"], now["reviewer"], now["note"]) == ("supported", "bo", "second look: the sources agree")


def test_verdict_history_and_verdicts_as_of_include_reviews(db):
    run1 = check(db, Machine(EIFFEL, "supported", 0.9, passages=PASSAGES))
    first = record_review(db, claim_id(EIFFEL), "refuted", "wrong year", "ana")
    run2 = check(db, Machine(EIFFEL, "supported", 0.8, passages=PASSAGES))  # a re-check after the review
    history = rows(db, "SELECT decided_by, run_id, label, confidence, previous_label, label_changed, reviewer "
                       "FROM verdict_history WHERE claim_id = ? ORDER BY checked_at", [claim_id(EIFFEL)])
    assert [h[:3] for h in history] == [("model", run1, "supported"), ("reviewer", run1, "refuted"),
                                        ("model", run2, "supported")]
    assert [h[4:6] for h in history] == [(None, False), ("supported", True), ("refuted", True)]
    assert history[1][3] is None and history[1][6] == "ana"
    # the person's decision stands after the re-check; the view says a re-check happened
    now = current(db, EIFFEL)
    assert (now["label"], now["decided_by"], now["run_id"], now["machine_run_id"], now["rechecked_since_review"]) == (
        "refuted", "reviewer", run1, run2, True)
    checked1, reviewed = rows(db, "SELECT (SELECT checked_at FROM verdicts WHERE run_id = ?), "
                                  "(SELECT reviewed_at FROM reviews)", [run1])[0]
    assert rows(db, "SELECT label, decided_by, confidence, review_id FROM verdicts_as_of(?)", [checked1]) == [
        ("supported", "model", 0.9, None)]
    assert rows(db, "SELECT label, decided_by, reviewer, review_id FROM verdicts_as_of(?)", [reviewed]) == [
        ("refuted", "reviewer", "ana", first.review_id)]


def test_a_review_of_a_verdict_since_rechecked_is_refused(db):
    run1 = check(db, Machine(EIFFEL, "supported", 0.9, passages=PASSAGES))
    run2 = check(db, Machine(EIFFEL, "refuted", 0.7, passages=PASSAGES))
    with pytest.raises(StaleReview) as err:
        record_review(db, claim_id(EIFFEL), "refuted", "saw the old verdict", "ana", run_id=run1)
    message = str(err.value)
    assert f"run {run1}" in message and f"run {run2}" in message and "re-checked" in message and "\n" not in message
    assert rows(db, "SELECT count(*) FROM reviews") == [(0,)]
    review = record_review(db, claim_id(EIFFEL), "refuted", "the latest one", "ana", run_id=run2)
    assert (review.run_id, review.machine_label) == (run2, "refuted")
    review = record_review(db, claim_id(EIFFEL), "refuted", "no run given: the latest", "ana")
    assert review.run_id == run2


@pytest.mark.parametrize("kwargs, names", [
    ({"claim": "0" * 20}, "0" * 20),
    ({"label": "true"}, "true"),
    ({"label": "Supported"}, "Supported"),
    ({"note": "  "}, "--note"),
    ({"reviewer": ""}, "--reviewer"),
    ({"run_id": "run-nope"}, "run-nope"),
    ({"relied": ["7"]}, "7"),
    ({"rejected": ["not-a-passage"]}, "not-a-passage"),
    ({"relied": ["1"], "rejected": ["#1"]}, "relied on and rejected"),
])
def test_bad_input_is_refused_naming_it_and_nothing_is_written(db, kwargs, names):
    check(db, Machine(EIFFEL, "supported", 0.9, passages=PASSAGES))
    first = record_review(db, claim_id(EIFFEL), "supported", "fine", "ana")
    args = {"claim": claim_id(EIFFEL), "label": "refuted", "note": "n", "reviewer": "bo", **kwargs}
    with pytest.raises(InputError) as err:
        record_review(db, args.pop("claim"), args.pop("label"), args.pop("note"), args.pop("reviewer"), **args)
    assert names in str(err.value) and "\n" not in str(err.value)
    assert rows(db, "SELECT review_id FROM reviews") == [(first.review_id,)]
    assert current(db, EIFFEL)["label"] == "supported"


def test_a_passage_id_of_digits_only_is_named_by_its_id(db):
    # ids are 20 hex digits: about one passage in 12,000 has no letter in its id (found so in a benchmark)
    source = source_of(EIFFEL).source_id
    digits = next(t for t in (f"Passage number {k}." for k in range(10**6))
                  if Passage(source, t, 0, len(t)).passage_id.isdigit())
    run = check(db, Machine(EIFFEL, "supported", 0.9, passages=(digits, "Another passage.")))
    (pid, other) = passage_ids(db, EIFFEL, run)
    assert pid.isdigit()
    review = record_review(db, claim_id(EIFFEL), "supported", "n", "ana", relied=[pid], rejected=["2"])
    assert review.relied_passages == (pid,) and review.rejected_passages == (other,)


def test_a_claim_without_a_verdict_cannot_be_reviewed(db):
    db.execute("INSERT INTO claims (claim_id, text, checkworthiness, run_id) VALUES ('c-unchecked', 'x', 1, 'r')")
    with pytest.raises(InputError, match="no verdict to review: c-unchecked"):
        record_review(db, "c-unchecked", "supported", "n", "ana")


def test_the_database_refuses_a_label_outside_the_four(db):
    run = check(db, Machine(EIFFEL, "supported", 0.9))
    import duckdb

    with pytest.raises(duckdb.ConstraintException):
        db.execute("INSERT INTO reviews (review_id, claim_id, run_id, machine_label, machine_confidence, label, note, "
                   "relied_passages, rejected_passages, reviewer, reviewed_at) VALUES ('r', ?, ?, 'supported', 0.9, "
                   "'true', 'n', [], [], 'x', now())", [claim_id(EIFFEL), run])


def _priority(con, text):
    cw, conf, checked = rows(con, "SELECT c.checkworthiness, l.confidence, l.checked_at FROM claim_latest l "
                                  "JOIN claims c USING (claim_id) WHERE claim_id = ?", [claim_id(text)])[0]
    age_days = (datetime.now(UTC) - checked).total_seconds() / 86400
    return cw * (1 - conf) * 0.5 ** (age_days / 7)


def test_the_queue_holds_flagged_unreviewed_claims_ranked_by_priority(db):
    flagged = {
        "Claim A needs review.": Machine("Claim A needs review.", "supported", 0.4, needs_review=True,
                                         checkworthiness=0.9),
        "Claim B is conflicting.": Machine("Claim B is conflicting.", "conflicting", 0.5, checkworthiness=0.6),
        "Claim C disagrees with a fact-check.": Machine("Claim C disagrees with a fact-check.", "supported", 0.8,
                                                        checkworthiness=1.0, rating="Mostly False"),
        "Claim D is old and unsure.": Machine("Claim D is old and unsure.", "refuted", 0.3, needs_review=True,
                                              checkworthiness=1.0),
    }
    calm = [Machine("Claim E is calm.", "supported", 0.95),
            Machine("Claim F agrees with a fact-check.", "refuted", 0.9, rating="False"),
            Machine("Claim G has a mixed fact-check.", "supported", 0.9, rating="Half True")]
    check(db, *flagged.values(), *calm)
    old = datetime.now(UTC) - timedelta(days=14)  # two weeks old: a quarter of the weight
    for table in ("verdicts", "claim_latest"):
        db.execute(f"UPDATE {table} SET checked_at = ? WHERE claim_id = ?", [old, claim_id("Claim D is old and unsure.")])
    queue = review_queue(db)
    assert {q["claim_text"] for q in queue} == set(flagged)
    reasons = {q["claim_text"]: q["reasons"] for q in queue}
    assert reasons == {"Claim A needs review.": ["needs_review"], "Claim B is conflicting.": ["conflicting"],
                       "Claim C disagrees with a fact-check.": ["disagrees_with_fact_check"],
                       "Claim D is old and unsure.": ["needs_review"]}
    expected = sorted(flagged, key=lambda t: -_priority(db, t))
    assert [q["claim_text"] for q in queue] == expected
    assert [q["queue_rank"] for q in queue] == [1, 2, 3, 4]
    for q in queue:
        assert math.isclose(q["priority"], _priority(db, q["claim_text"]), rel_tol=1e-3)
    # D: 1.0 x 0.7 x 0.25 = 0.175 ranks below A: 0.9 x 0.6 = 0.54 though it is more uncertain
    assert expected.index("Claim D is old and unsure.") > expected.index("Claim A needs review.")
    assert [q["claim_id"] for q in review_queue(db, limit=2)] == [q["claim_id"] for q in queue[:2]]


def test_a_review_takes_a_claim_off_the_queue_and_a_flagged_recheck_puts_it_back(db):
    text = "Claim A needs review."
    check(db, Machine(text, "supported", 0.4, needs_review=True))
    assert [q["claim_text"] for q in review_queue(db)] == [text]
    record_review(db, claim_id(text), "supported", "checked the sources", "ana")
    assert review_queue(db) == []
    run2 = check(db, Machine(text, "refuted", 0.45, needs_review=True))
    (back,) = review_queue(db)
    assert (back["claim_text"], back["run_id"], back["label"]) == (text, run2, "refuted")
    assert current(db, text)["label"] == "supported"  # the person's decision stands until reviewed again


def test_rating_label_reads_plain_ratings_only(db):
    got = dict(rows(db, "SELECT r, rating_label(r) FROM (VALUES ('False'), ('Mostly false'), ('Pants on Fire!'), "
                        "('True'), ('Correct'), ('Half True'), ('Misleading'), ('Missing context'), (NULL)) t(r)"))
    assert got == {"False": "refuted", "Mostly false": "refuted", "Pants on Fire!": "refuted", "True": "supported",
                   "Correct": "supported", "Half True": None, "Misleading": None, "Missing context": None, None: None}


def test_claims_by_id_keep_their_ids_and_an_unknown_id_is_named(db):
    from warehouse.queries import claims_by_id

    check(db, Machine(EIFFEL, "supported", 0.9), Machine(MOON, "refuted", 0.9))
    db.execute("UPDATE claims SET input_id = 'row-7' WHERE claim_id = ?", [claim_id(MOON)])
    with_id = Claim(text=MOON, start=None, end=None, score=1.0, input_id="row-7").claim_id
    db.execute("UPDATE claims SET claim_id = ? WHERE claim_id = ?", [with_id, claim_id(MOON)])  # as --from stores it
    ids = [r[0] for r in rows(db, "SELECT claim_id FROM claims ORDER BY text DESC")]
    assert [c.claim_id for c in claims_by_id(db, ids)] == ids
    with pytest.raises(InputError, match="no such claim: nope"):
        claims_by_id(db, [ids[0], "nope"])
