"""`factledger check-claim` with web providers over real local HTTP, through a Prefect run."""

from __future__ import annotations

import json

import pytest

from factledger.cli import main
from tests.verifiers.test_web_providers import ARTICLE, FAKE_KEY, factcheck_handler

pytestmark = pytest.mark.slow


def test_factchecks_shown_first_stored_and_key_never_stored(httpserver, tmp_path, monkeypatch, capsys, prefect_harness):
    httpserver.expect_request("/v1alpha1/claims:search").respond_with_handler(factcheck_handler)
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404, content_type="text/plain")
    httpserver.expect_request("/news/a").respond_with_data(ARTICLE, content_type="text/html; charset=utf-8")
    monkeypatch.setenv("FACTLEDGER_FACTCHECK_API", httpserver.url_for("/v1alpha1/claims:search"))
    monkeypatch.setenv("FACTLEDGER_FACTCHECK_API_KEY", FAKE_KEY)
    monkeypatch.setenv("FACTLEDGER_ALLOW_LOOPBACK", "1")
    monkeypatch.setenv("FACTLEDGER_HOME", str(tmp_path / "home"))
    db = tmp_path / "p.duckdb"
    code = main(["check-claim", "Russia recognised the Taliban government in July 2025.", "--provider", "factchecks",
                 "--url", httpserver.url_for("/news/a"), "--db", str(db), "--format", "json", "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    (row,) = json.loads(out)
    assert row["fact_checks"][0]["publisher"] == "Example Checks" and row["fact_checks"][0]["rating"] == "True"
    assert row["source_url"] == httpserver.url_for("/news/a")
    assert main(["sql", "SELECT publisher, textual_rating, review_url FROM fact_checks", "--db", str(db),
                 "--format", "json"]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert stored == [{"publisher": "Example Checks", "textual_rating": "True",
                       "review_url": "https://checks.example.org/2025/07/russia-taliban"}]
    assert FAKE_KEY not in out
    assert FAKE_KEY.encode() not in db.read_bytes()
    for f in (tmp_path / "home").rglob("*"):
        if f.is_file():
            assert FAKE_KEY.encode() not in f.read_bytes(), f
