"""Exports, ClaimReview drafts and the HTML report, from a warehouse filled by the real pipeline code."""

from __future__ import annotations

import json
import uuid

import duckdb
import pytest

from extractors.articles import load_article
from extractors.checkworthy import RuleScorer
from extractors.claims import extract_claims
from factledger.cli import main
from factledger.corpus import ingest
from factledger.settings import Thresholds
from tests.conftest import EXAMPLES
from verifiers.pipeline import Verifier
from verifiers.providers import CorpusProvider
from verifiers.stance import ConflictRuleStance
from warehouse.db import connect
from warehouse.store import RunInfo, finish_run, start_run, store_article_results


@pytest.fixture(scope="module")
def checked_db(tmp_path_factory, splitter, embedder):
    path = tmp_path_factory.mktemp("exports") / "x.duckdb"
    con = connect(path)
    ingest(con, "corpus", [EXAMPLES / "corpus"], splitter, embedder)
    run_id = str(uuid.uuid4())
    start_run(con, RunInfo(run_id, "check-article", "test", embedder.name, "1", "rules", "v1", "rules", "sm", ("corpus",)))
    art = load_article(str(EXAMPLES / "sample_article.md"))
    claims = extract_claims(art, splitter, RuleScorer(), min_score=Thresholds().checkworthy_min_score)
    t = Thresholds(support_min_similarity=0.3, topical_min_similarity=0.2)
    results = Verifier([CorpusProvider(con)], embedder, ConflictRuleStance(splitter.nlp), t).check(claims)
    store_article_results(con, run_id, art, results)
    finish_run(con, run_id)
    con.close()
    return path, art


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_export_formats(checked_db, tmp_path, fmt, capsys):
    db, _ = checked_db
    out = tmp_path / f"ve.{fmt}"
    assert main(["export", "--format", fmt, "--view", "verdict_evidence", "--out", str(out), "--db", str(db)]) == 0
    reader = {"csv": "read_csv", "parquet": "read_parquet", "jsonl": "read_json"}[fmt]
    con = duckdb.connect()
    n = con.execute(f"SELECT count(*) FROM {reader}('{out}')").fetchone()[0]
    cols = [d[0] for d in con.execute(f"SELECT * FROM {reader}('{out}') LIMIT 1").description]
    assert n > 0 and cols[:4] == ["run_id", "article_ref", "claim_id", "claim_text"]
    assert f"{n} rows written" in capsys.readouterr().out


def test_export_refuses_unknown_view(checked_db, tmp_path, capsys):
    db, _ = checked_db
    assert main(["export", "--view", "pg_shadow; DROP TABLE runs", "--out", str(tmp_path / "x.csv"), "--db", str(db)]) == 1
    assert "cannot export" in capsys.readouterr().err


REQUIRED = ["@context", "@type", "url", "claimReviewed", "itemReviewed", "author", "reviewRating"]


def test_claimreview_drafts_have_the_required_fields(checked_db, tmp_path):
    db, art = checked_db
    out = tmp_path / "cr.json"
    assert main(["export", "--format", "claimreview", "--out", str(out), "--db", str(db),
                 "--article", str(EXAMPLES / "sample_article.md"), "--publisher", "Example Desk"]) == 0
    drafts = json.loads(out.read_text())
    assert drafts
    for d in drafts:
        assert all(d.get(k) for k in REQUIRED), d
        assert d["@context"] == "https://schema.org" and d["@type"] == "ClaimReview"
        assert d["creativeWorkStatus"] == "Draft"
        assert "datePublished" not in d  # a draft is not published: no date (never the export date)
        item = d["itemReviewed"]
        # the article is a local file: no appearance (not a path), no author, no date it does not give
        assert item == {"@type": "Claim"}, item
        rating = d["reviewRating"]
        assert rating["@type"] == "Rating" and rating["alternateName"] in {"True", "False", "Mixed", "Unproven"}
        assert rating["worstRating"] <= rating["ratingValue"] <= rating["bestRating"]
        assert d["url"].startswith("https://") and d["author"]["name"] == "Example Desk"


def test_a_claimreview_names_a_web_articles_site_its_page_and_its_own_date(checked_db, tmp_path):
    import shutil

    from warehouse.export import claimreview_drafts

    db = tmp_path / "copy.duckdb"
    shutil.copy(checked_db[0], db)
    con = connect(db)
    try:  # the same stored article as if fetched from the web, with the date its page gives
        con.execute("UPDATE articles SET url = 'https://news.example.com/2025/tower', published = '2025-03-01'")
        drafts = claimreview_drafts(con, publisher="Example Desk", review_base_url="https://desk.example/r")
    finally:
        con.close()
    assert drafts and all(d["itemReviewed"] == {
        "@type": "Claim", "author": {"@type": "Organization", "name": "news.example.com"},
        "appearance": [{"@type": "CreativeWork", "url": "https://news.example.com/2025/tower"}],
        "datePublished": "2025-03-01"} for d in drafts)


def test_html_report_highlights_claims_and_cites_passages(checked_db, tmp_path):
    db, art = checked_db
    out = tmp_path / "report.html"
    assert main(["report", str(EXAMPLES / "sample_article.md"), "--out", str(out), "--db", str(db)]) == 0
    html = out.read_text()
    con = connect(db, analyst=True)
    claims = con.execute("SELECT claim_id, label FROM latest_verdicts").fetchall()
    shas = [r[0] for r in con.execute("SELECT passage_sha256 FROM verdict_evidence").fetchall()]
    con.close()
    assert html.startswith("<!doctype html>") and "<script" not in html
    for cid, label in claims:
        assert f'id="c-{cid}"' in html and f'href="#c-{cid}"' in html
    assert all(sha in html for sha in shas)
    assert "https://example.org/encyclopedia/eiffel-tower" in html


def test_html_report_shows_rationale_and_review_flag_the_title_once_and_no_page_chrome(checked_db, tmp_path):
    import re
    from html import escape

    db, art = checked_db
    out = tmp_path / "report.html"
    assert main(["report", str(EXAMPLES / "sample_article.md"), "--out", str(out), "--db", str(db)]) == 0
    html = out.read_text()
    con = connect(db, analyst=True)
    verdicts = con.execute("""SELECT lv.claim_id, v.rationale, v.needs_review, c.span_start, c.span_end
                              FROM latest_verdicts lv JOIN verdicts v USING (run_id, claim_id)
                              JOIN claims c USING (claim_id)""").fetchall()
    con.close()
    assert verdicts
    for cid, rationale, review, start, end in verdicts:
        block = html.split(f'id="c-{cid}"', 1)[1].split('<div class="claim"', 1)[0]
        assert f"needs review: {'yes' if review else 'no'}" in block
        assert f"Why: {escape(rationale)}" in block  # the verdict's own rationale, the one the CLI prints
        assert escape(art.text[start:end]) in html  # every claim's sentence is still in the text
    body = html.split("<body>", 1)[1]
    assert art.title and body.count(escape(art.title)) == 1  # the heading, not again atop the text
    text = body.split('<div class="article">', 1)[1].split("</div>", 1)[0]
    assert "Scroll to top" in art.text and "Share this article" in art.text  # the stored text keeps them
    assert "Scroll to top" not in text and "Share this article" not in text
    assert "Each year it is visited by about six million people" in re.sub(r"<[^>]+>", "", text)


def test_report_keeps_a_chrome_line_that_holds_a_claim():
    from warehouse.report import _shown, hidden_lines

    text = "The Title\n\nHome\nThe bridge opened in 1932.\nMenu\nScroll to top\n"
    claim = (text.index("Menu"), text.index("Menu") + 4)  # as if a claim were found there
    hidden = hidden_lines(text, "The title", [claim])
    assert _shown(text, 0, len(text), hidden) == "The bridge opened in 1932.\nMenu"
    assert _shown(text, 0, len(text), hidden_lines(text, None, [])) == "The Title\n\nThe bridge opened in 1932."


def test_report_for_unknown_article(checked_db, tmp_path, capsys):
    db, _ = checked_db
    assert main(["report", "https://nowhere.example/a", "--out", str(tmp_path / "r.html"), "--db", str(db)]) == 1
    assert "no stored article" in capsys.readouterr().err
