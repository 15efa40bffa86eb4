"""Published output respects people: the ClaimReview export and the HTML report show the decision
that stands (`verdicts_current`), and a ClaimReview leaves Draft only for a reviewed verdict."""

from __future__ import annotations

import json
import shutil
import uuid

import pytest

from factledger.cli import main
from tests.conftest import EXAMPLES
from tests.reviewdesk import Machine, check, claim_id
from tests.warehouse.test_exports import checked_db  # noqa: F401 -- the fixture: the example article, checked
from warehouse.db import connect
from warehouse.export import RATING, claimreview_drafts
from warehouse.report import COLOURS
from warehouse.reviews import record_review

ARTICLE = EXAMPLES / "sample_article.md"
OTHER = {"supported": "refuted", "refuted": "supported", "conflicting": "refuted", "not_enough_evidence": "refuted"}


@pytest.fixture()
def db_copy(checked_db, tmp_path):
    path = tmp_path / "copy.duckdb"
    shutil.copy(checked_db[0], path)
    return path


def first_claim(db):
    con = connect(db, read_only=True)
    try:
        return con.execute("SELECT lv.claim_id, lv.label FROM latest_verdicts lv JOIN claims c USING (claim_id) "
                           "ORDER BY c.claim_rank LIMIT 1").fetchone()
    finally:
        con.close()


def drafts(db, tmp_path):
    out = tmp_path / f"cr-{uuid.uuid4()}.json"
    assert main(["export", "--format", "claimreview", "--out", str(out), "--db", str(db), "--article",
                 str(ARTICLE)]) == 0
    return {d["url"].rsplit("/", 1)[1]: d for d in json.loads(out.read_text())}


def test_a_claimreview_leaves_draft_only_once_reviewed(db_copy, tmp_path, capsys):
    before = drafts(db_copy, tmp_path)
    assert len(before) > 1 and {d["creativeWorkStatus"] for d in before.values()} == {"Draft"}
    cid, machine = first_claim(db_copy)
    decided = OTHER[machine]
    assert main(["review", cid, "--verdict", decided, "--note", "The sources say otherwise.", "--reviewer", "ana",
                 "--db", str(db_copy)]) == 0
    after = drafts(db_copy, tmp_path)
    reviewed = after[cid]
    assert reviewed["creativeWorkStatus"] == "Published"
    assert (reviewed["reviewRating"]["ratingValue"], reviewed["reviewRating"]["alternateName"]) == RATING[decided]
    assert "ana" in reviewed["description"] and f"overruled the machine's {machine}" in reviewed["description"]
    assert "DRAFT" not in reviewed["description"]
    assert {k: d["creativeWorkStatus"] for k, d in after.items() if k != cid} == {k: "Draft" for k in after if k != cid}
    assert {k: d["reviewRating"] for k, d in after.items() if k != cid} == {
        k: d["reviewRating"] for k, d in before.items() if k != cid}
    capsys.readouterr()


def test_the_report_shows_the_reviewers_decision(db_copy, tmp_path, capsys):
    cid, machine = first_claim(db_copy)
    decided = OTHER[machine]
    assert main(["review", cid, "--verdict", decided, "--note", "Checked the archive <by hand>.", "--reviewer", "ana",
                 "--db", str(db_copy)]) == 0
    out = tmp_path / "report.html"
    assert main(["report", str(ARTICLE), "--out", str(out), "--db", str(db_copy)]) == 0
    html = out.read_text()
    block = html.split(f'id="c-{cid}"', 1)[1].split('<div class="claim"', 1)[0]
    assert f"border-color:{COLOURS[decided]}" in block.split(">", 1)[0]
    assert f"{decided.replace('_', ' ')} · decided by reviewer ana" in block
    assert f"overruled the model's {machine.replace('_', ' ')}" in block
    assert "Reviewer's note: Checked the archive &lt;by hand&gt;." in block
    con = connect(db_copy, read_only=True)
    others = [r[0] for r in con.execute("SELECT claim_id FROM verdicts_current WHERE decided_by = 'model'").fetchall()]
    con.close()
    assert others
    for other in others:
        assert "decided by the model" in html.split(f'id="c-{other}"', 1)[1].split('<div class="claim"', 1)[0]
    # the highlight in the article text has the reviewer's colour too
    assert f'<a href="#c-{cid}" style="background:{COLOURS[decided]}">' in html
    capsys.readouterr()


def test_a_recheck_after_a_review_keeps_the_claimreview_reviewed(db, tmp_path):
    text = "The Moon is made of cheese."
    check(db, Machine(text, "supported", 0.6))
    record_review(db, claim_id(text), "refuted", "It is rock.", "bo")
    check(db, Machine(text, "supported", 0.7))  # the machine still says supported
    (draft,) = claimreview_drafts(db, publisher="Desk", review_base_url="https://desk.example/r/")
    assert draft["creativeWorkStatus"] == "Published" and draft["reviewRating"]["alternateName"] == "False"
    text2 = "The Sun is a star."
    check(db, Machine(text2, "supported", 0.9))
    statuses = {d["claimReviewed"]: d["creativeWorkStatus"]
                for d in claimreview_drafts(db, publisher="Desk", review_base_url="https://desk.example/r/")}
    assert statuses == {text: "Published", text2: "Draft"}


def test_the_review_page_shows_the_article_around_a_claim_without_page_chrome(checked_db):
    from warehouse.reviews import claim_for_review

    con = connect(checked_db[0], read_only=True)
    try:
        text = con.execute("SELECT text FROM articles").fetchone()[0]
        ids = [r[0] for r in con.execute("SELECT claim_id FROM claims WHERE span_start IS NOT NULL").fetchall()]
        contexts = [claim_for_review(con, cid)["context"] for cid in ids]
    finally:
        con.close()
    assert "Scroll to top" in text and "Share this article" in text  # the page chrome is in the stored text
    shown = " ".join(c["before"] + c["sentence"] + c["after"] for c in contexts)
    assert "six million" in shown and "Scroll to top" not in shown and "Share this article" not in shown
