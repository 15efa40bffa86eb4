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
    code = main(["-v", "check-claim", "Russia recognised the Taliban government in July 2025.", "--provider", "factchecks",
                 "--url", httpserver.url_for("/news/a"), "--db", str(db), "--format", "json", "--quiet",
                 "--prefect"])  # a Prefect flow run: its parameters and artifacts must not hold the key either
    assert code == 0
    captured = capsys.readouterr()
    out, logs = captured.out, captured.err
    (row,) = json.loads(out)
    assert row["fact_checks"][0]["publisher"] == "Example Checks" and row["fact_checks"][0]["rating"] == "True"
    assert row["source_url"] == httpserver.url_for("/news/a")
    assert main(["sql", "SELECT publisher, textual_rating, review_url FROM fact_checks", "--db", str(db),
                 "--format", "json"]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert stored == [{"publisher": "Example Checks", "textual_rating": "True",
                       "review_url": "https://checks.example.org/2025/07/russia-taliban"}]
    assert FAKE_KEY not in out and FAKE_KEY not in logs
    assert FAKE_KEY.encode() not in db.read_bytes()
    for view, fmt in (("verdict_provenance", "csv"), ("fact_checks", "jsonl"), ("sources", "parquet"), ("runs", "csv")):
        dest = tmp_path / f"export-{view}.{fmt}"
        assert main(["export", "--view", view, "--format", fmt, "--out", str(dest), "--db", str(db)]) == 0
        assert FAKE_KEY.encode() not in dest.read_bytes(), view
    assert main(["export", "--format", "claimreview", "--out", str(tmp_path / "cr.json"), "--db", str(db)]) == 0
    assert FAKE_KEY not in (tmp_path / "cr.json").read_text()
    assert FAKE_KEY not in _prefect_artifacts_and_params()
    for f in (tmp_path / "home").rglob("*"):
        if f.is_file():
            assert FAKE_KEY.encode() not in f.read_bytes(), f


def _prefect_artifacts_and_params() -> str:
    """Everything Prefect stored about the runs: artifacts' data and flow-run parameters."""
    import asyncio

    from prefect.client.orchestration import get_client

    async def fetch():
        async with get_client() as client:
            arts = await client.read_artifacts()
            runs = await client.read_flow_runs()
            return json.dumps([a.data for a in arts], default=str) + json.dumps([r.parameters for r in runs], default=str)

    return asyncio.run(fetch())
