"""Checks run in this process without Prefect (`flows.local`, the CLI's default when no service
runs) store what the `check-claim` and `check-article` flows store: the same rows in every table
but for the run id and the clock; the CLI runs a Prefect flow only when asked (`--prefect`)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT, example_corpus

pytestmark = pytest.mark.slow
CLAIMS = ["The Eiffel Tower was completed in 1889 for the World's Fair.", "The Eiffel Tower is 100 metres tall."]
TABLES = ("runs", "articles", "claims", "sources", "passages", "evidence", "verdicts", "claim_latest", "fact_checks")


@pytest.fixture()
def two_ledgers(tmp_path, splitter, embedder):
    """Two copies of one warehouse with the example corpus, and a Runtime of cheap models."""
    import flows
    from extractors.checkworthy import RuleScorer
    from factledger.app import Runtime
    from verifiers.stance import ConflictRuleStance

    db = tmp_path / "local.duckdb"
    example_corpus(db, splitter, embedder)
    shutil.copyfile(db, tmp_path / "flow.duckdb")
    rt = Runtime(splitter=splitter, embedder=embedder, scorer=RuleScorer(), stance=ConflictRuleStance(splitter.nlp))
    flows.set_runtime(rt)
    yield rt, db, tmp_path / "flow.duckdb"
    flows.set_runtime(None)


def contents(db) -> dict[str, list[tuple]]:
    """Every row of the tables a run writes, without run ids and timestamps, in a stable order."""
    from warehouse.db import connect

    con = connect(db, read_only=True)
    try:
        out = {}
        for table in TABLES:
            cols = [c for c, t in con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                              "WHERE table_name = ? AND table_catalog = current_database() "
                                              "ORDER BY ordinal_position", [table]).fetchall()
                    if c not in ("run_id", "child_run_id") and not t.startswith("TIMESTAMP")]
            out[table] = con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def run_ids(db) -> list[tuple[str, str, str]]:
    from warehouse.db import connect

    con = connect(db, read_only=True)
    try:
        return con.execute("SELECT run_id, flow_name, status FROM runs WHERE flow_name LIKE 'check-%'").fetchall()
    finally:
        con.close()


def test_a_local_check_stores_the_rows_a_flow_run_stores(two_ledgers, prefect_harness):
    import flows
    from flows.local import check_article, check_claims
    from flows.runners import run_flow

    rt, local_db, flow_db = two_ledgers
    article = str(EXAMPLES / "sample_article.md")
    local_rows = check_claims(rt, str(local_db), claims=CLAIMS, input_ids=["a", "b"], quiet=True)
    local_rows += check_article(rt, str(local_db), article, max_claims=3, quiet=True)
    flow_rows = run_flow(flows.check_claim_flow, claims=CLAIMS, input_ids=["a", "b"], db=str(flow_db), quiet=True)
    flow_rows += run_flow(flows.check_article_flow, article=article, max_claims=3, db=str(flow_db), quiet=True)

    assert local_rows == flow_rows and len(local_rows) > 2
    stored = contents(local_db)
    assert sorted(r[0] for r in stored["runs"] if r[0].startswith("check-")) == ["check-article", "check-claim"]
    assert len(stored["claims"]) == len(stored["verdicts"]) == len(local_rows) and stored["evidence"]
    assert stored == contents(flow_db)  # models, thresholds, params, claims, evidence, verdicts, hashes
    for run_id, _, status in run_ids(local_db):
        assert str(uuid.UUID(run_id)) == run_id and status == "completed"


def test_a_local_check_that_fails_is_recorded_and_names_its_run(two_ledgers):
    from factledger.errors import ConfigError
    from flows.local import check_claims
    from flows.steps import run_id_of

    rt, db, _ = two_ledgers
    with pytest.raises(ConfigError) as caught:  # a provider that cannot work, found after the run began
        check_claims(rt, str(db), text=CLAIMS[0], providers=["no-such-provider"], quiet=True)
    ((run_id, flow_name, status),) = run_ids(db)
    assert run_id_of(caught.value) == run_id and (flow_name, status) == ("check-claim", "failed")


PROBE = """
import json, sys
from factledger.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "prefect": "prefect" in sys.modules}), file=sys.stderr)
"""


def test_the_cli_checks_without_prefect_unless_asked(two_ledgers, prefect_harness, tmp_path, capsys, monkeypatch):
    """A cold `check-claim` never imports Prefect; `--prefect` makes the same check a Prefect
    flow run, whose id Prefect knows."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from factledger.cli import main

    _, db, _ = two_ledgers
    env = {"FACTLEDGER_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect")}
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    proc = subprocess.run([sys.executable, "-c", PROBE, "check-claim", CLAIMS[0], "--db", str(db), "--quiet",
                           "--format", "json"], capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={**os.environ, **env})
    probe = json.loads(proc.stderr.strip().splitlines()[-1])
    assert probe == {"code": 0, "prefect": False}, proc.stderr[-2000:]
    assert json.loads(proc.stdout)[0]["claim"] == CLAIMS[0]
    assert not (tmp_path / "prefect").exists()  # no Prefect state was even created

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["check-claim", CLAIMS[1], "--db", str(db), "--quiet", "--format", "json", "--prefect"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["claim"] == CLAIMS[1]
    local_id, flow_id = verdict_run(db, CLAIMS[0]), verdict_run(db, CLAIMS[1])

    async def in_prefect(run_id: str) -> bool:
        async with get_client() as client:
            try:
                return str((await client.read_flow_run(uuid.UUID(run_id))).id) == run_id
            except ObjectNotFound:
                return False

    assert asyncio.run(in_prefect(flow_id)) and not asyncio.run(in_prefect(local_id))
    assert re.fullmatch(r"[0-9a-f-]{36}", local_id)


def verdict_run(db, claim: str) -> str:
    """The run that gave `claim` its verdict."""
    from warehouse.db import connect

    con = connect(db, read_only=True)
    try:
        (run_id,) = con.execute("SELECT v.run_id FROM verdicts v JOIN claims c USING (claim_id) WHERE c.text = ?",
                                [claim]).fetchone()
        return run_id
    finally:
        con.close()


def test_the_program_ends_with_everything_written(two_ledgers, tmp_path):
    """The `factledger` program ends without the interpreter's teardown of torch (`cli.run`): the
    output is all there, the run completed, and the warehouse closed cleanly (no write-ahead log left)."""
    _, db, _ = two_ledgers
    env = {**os.environ, "FACTLEDGER_HOME": str(tmp_path / "home")}
    env.pop("PREFECT_API_URL", None)
    claims = tmp_path / "claims.txt"
    claims.write_text("\n".join(CLAIMS) + "\n", encoding="utf-8")
    proc = subprocess.run([str(Path(sys.executable).parent / "factledger"), "check-claim", "--from", str(claims),
                           "--db", str(db), "--quiet", "--format", "json"], capture_output=True, text=True,
                          timeout=600, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [r["claim"] for r in json.loads(proc.stdout)] == CLAIMS
    assert [status for _, _, status in run_ids(db)] == ["completed"]
    assert not db.with_name(db.name + ".wal").exists()
