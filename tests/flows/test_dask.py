"""The flows on a Dask cluster give the verdicts of the default thread runner, and only the flow
process writes to DuckDB.

The cluster is a `LocalCluster` with one worker *process* (`processes=True`, one thread): the
real setting, where tasks cross a process boundary, records are pickled both ways and the worker
builds its own packaged models (MiniLM, the stance cross-encoder, spaCy) once, from the flow's
`RuntimeSpec`. The flow process uses the same real models (injected, as test_end_to_end does), so
the two runners can be compared verdict for verdict. The worker reports to the session's
`prefect_test_harness` server: its URL travels with each task in Prefect's settings context.
"""

from __future__ import annotations

import os
import shutil

import pytest

from factledger.app import Runtime
from tests.conftest import EXAMPLES, example_corpus

CLAIMS = [
    "Russia officially recognised the Taliban government on 3 July 2025.",
    "Russia officially recognised the Taliban government on 3 July 2021.",
    "Soviet troops left Afghanistan in February 1989.",
    "The Eiffel Tower is in Berlin.",
    "The Taliban entered Kabul on 15 August 2021.",
]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Settings both the flow process and the worker (spawned later, inheriting them) see:
    a private FactLedger home, and no model-output cache (each runner computes its own scores)."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACTLEDGER_HOME", str(home))
        mp.setenv("FACTLEDGER_MODEL_CACHE", "off")
        yield home


@pytest.fixture(scope="module")
def corpus_db(env, tmp_path_factory, splitter, real_embedder):
    return example_corpus(tmp_path_factory.mktemp("dask") / "corpus.duckdb", splitter, real_embedder)


@pytest.fixture(scope="module")
def cluster(env):
    """One worker process. It starts building its models at once (what the first task would do),
    so that this overlaps with the Prefect harness and the corpus starting up here."""
    from distributed import Client, LocalCluster

    def warm_up():
        from flows.check import RuntimeSpec, get_runtime

        rt = get_runtime(RuntimeSpec())  # the spec of the runtime injected below
        rt.embedder.encode(["warm"])
        return rt.stance_model.name

    with LocalCluster(n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None) as c, \
            Client(c) as client:
        warming = client.submit(warm_up, pure=False)
        yield c.scheduler_address, client
        del warming


@pytest.fixture(scope="module")
def runtime(env, prefect_harness, splitter, real_embedder):
    import flows

    flows.set_runtime(Runtime(splitter=splitter, embedder=real_embedder))
    yield
    flows.set_runtime(None)


def copy_db(src, tmp_path, name):
    dst = tmp_path / name
    shutil.copy(src, dst)
    return dst


def q(db, sql, params=None):
    from warehouse.db import connect

    con = connect(db, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def verdicts(db, run_ids) -> dict[str, tuple]:
    """claim id -> (label, confidence, evidence passage ids by rank) for the given runs."""
    rows = q(db, """SELECT v.claim_id, v.label, v.confidence,
                           list(e.passage_id ORDER BY e.evidence_rank) FILTER (WHERE e.passage_id IS NOT NULL)
                    FROM verdicts v LEFT JOIN evidence e USING (run_id, claim_id)
                    WHERE v.run_id IN (SELECT unnest(?::VARCHAR[]))
                    GROUP BY ALL""", [list(run_ids)])
    return {cid: (label, conf, tuple(pids or ())) for cid, label, conf, pids in rows}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and a
    for cid in a:
        (la, ca, pa), (lb, cb, pb) = a[cid], b[cid]
        assert (la, pa) == (lb, pb), cid
        assert ca == pytest.approx(cb, abs=1e-6), cid


def new_runs(db, before: set[str]) -> list[tuple[str, str, str]]:
    return [r for r in q(db, "SELECT run_id, flow_name, status FROM runs ORDER BY started_at") if r[0] not in before]


def run_ids(db) -> set[str]:
    return {r[0] for r in q(db, "SELECT run_id FROM runs")}


def written_by(db, run_id) -> dict[str, int]:
    """How many rows of each fact table this run wrote."""
    tables = ("articles", "claims", "passages", "sources", "evidence", "verdicts")
    return {t: q(db, f"SELECT count(*) FROM {t} WHERE run_id = ?", [run_id])[0][0] for t in tables}


def worker_state(client) -> dict:
    """pid and Runtime identity in each worker process (the models are built once per process)."""
    def probe():
        import os

        import flows.check

        return os.getpid(), id(flows.check._RUNTIME) if flows.check._RUNTIME is not None else None

    return client.run(probe)


@pytest.mark.slow
def test_check_claim_on_dask_matches_the_thread_runner(cluster, corpus_db, runtime, tmp_path):
    import flows
    from flows.runners import run_flow

    address, client = cluster
    db_thread, db_dask = copy_db(corpus_db, tmp_path, "thread.duckdb"), copy_db(corpus_db, tmp_path, "dask.duckdb")

    rows_thread = run_flow(flows.check_claim_flow, claims=CLAIMS, db=str(db_thread), quiet=True)
    before = run_ids(db_dask)
    # Two claims per task: three chunks verified on the worker, gathered back in order.
    rows_dask = run_flow(flows.check_claim_flow, "dask", address, claims=CLAIMS, db=str(db_dask), quiet=True,
                         claims_per_task=2)

    assert [r["claim"] for r in rows_dask] == [r["claim"] for r in rows_thread] == CLAIMS
    assert [(r["label"], r["confidence"]) for r in rows_dask] == [(r["label"], r["confidence"]) for r in rows_thread]
    runs = new_runs(db_dask, before)
    assert [(flow, status) for _, flow, status in runs] == [("check-claim", "completed")]
    (run_id, _, _), = runs
    (thread_run,) = {r[0] for r in q(db_thread, "SELECT run_id FROM runs WHERE flow_name = 'check-claim'")}
    assert_same(verdicts(db_dask, [run_id]), verdicts(db_thread, [thread_run]))
    assert written_by(db_dask, run_id)["verdicts"] == len(CLAIMS)
    assert q(db_dask, "SELECT count(*) FROM verdicts WHERE run_id <> ?", [run_id]) == [(0,)]

    (pid, rt_id), = worker_state(client).values()
    assert pid != os.getpid() and rt_id is not None  # the worker did the work, with its own models


@pytest.mark.slow
def test_check_article_and_batch_on_dask_match_the_thread_runner(cluster, corpus_db, runtime, tmp_path):
    import flows
    from flows.runners import run_flow

    address, client = cluster
    article = EXAMPLES / "sample_article.md"
    second = tmp_path / "second.md"
    second.write_text("# Kabul\n\nThe Taliban entered Kabul on 15 August 2021, after the withdrawal of United "
                      "States troops, and the elected government of Afghanistan collapsed the same day.\n")
    db_thread, db_dask = copy_db(corpus_db, tmp_path, "thread.duckdb"), copy_db(corpus_db, tmp_path, "dask.duckdb")
    db_batch = copy_db(corpus_db, tmp_path, "batch.duckdb")

    rows_thread = run_flow(flows.check_article_flow, article=str(article), db=str(db_thread), quiet=True)
    before = run_ids(db_dask)
    rows_dask = run_flow(flows.check_article_flow, "dask", address, article=str(article), db=str(db_dask),
                         quiet=True, claims_per_task=3)
    assert rows_thread and [(r["claim"], r["label"], r["confidence"]) for r in rows_dask] == \
        [(r["claim"], r["label"], r["confidence"]) for r in rows_thread]
    runs = new_runs(db_dask, before)
    assert [(flow, status) for _, flow, status in runs] == [("check-article", "completed")]
    (run_id, _, _), = runs
    thread_run = q(db_thread, "SELECT run_id FROM runs WHERE flow_name = 'check-article'")[0][0]
    assert_same(verdicts(db_dask, [run_id]), verdicts(db_thread, [thread_run]))
    written = written_by(db_dask, run_id)
    assert written["articles"] == 1 and written["verdicts"] == len(rows_dask)
    assert q(db_dask, "SELECT count(*) FROM verdicts WHERE run_id <> ?", [run_id]) == [(0,)]
    workers_before = worker_state(client)

    # A batch over two articles: both analysed on the worker, stored here one at a time, each
    # as its own check-article run; the shared one gets the verdicts of the single-article run.
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{article}\n{second}\n")
    before = run_ids(db_batch)
    counts = run_flow(flows.batch_flow, "dask", address, url_lists=[str(urls)], db=str(db_batch))
    assert counts == {"checked": 2, "seen_before": 0, "duplicate_content": 0, "failed": 0}
    runs = new_runs(db_batch, before)
    assert sorted((flow, status) for _, flow, status in runs) == [
        ("batch", "completed"), ("check-article", "completed"), ("check-article", "completed")]
    items = dict(q(db_batch, "SELECT url, child_run_id FROM batch_items"))
    assert set(items.values()) == {r for r, flow, _ in runs if flow == "check-article"}
    child = items[str(article.resolve())]
    assert_same(verdicts(db_batch, [child]), verdicts(db_thread, [thread_run]))
    assert written_by(db_batch, child)["articles"] == 1
    assert q(db_batch, "SELECT count(DISTINCT run_id) FROM verdicts") == [(2,)]

    assert worker_state(client) == workers_before  # same worker process, same Runtime: models loaded once


def test_cli_device_and_runner_errors_are_one_line(tmp_path, capsys, monkeypatch):
    import torch

    from factledger.cli import main

    monkeypatch.setenv("FACTLEDGER_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    db = str(tmp_path / "x.duckdb")
    for command in ("check-claim", "batch"):
        args = ["Paris is in France."] if command == "check-claim" else ["--url-list", str(tmp_path / "urls.txt")]
        assert main([command, *args, "--device", "cuda", "--db", db]) == 1
        assert capsys.readouterr().err == "Error: --device cuda: torch sees no CUDA GPU on this machine\n"
    assert main(["check-claim", "Paris is in France.", "--runner", "thread", "--dask-address", "tcp://10.0.0.9:8786",
                 "--db", db]) == 1
    assert capsys.readouterr().err == "Error: --dask-address needs --runner dask (tcp://10.0.0.9:8786)\n"
    with pytest.raises(SystemExit) as exc:
        main(["check", "a.md", "--device", "tpu"])
    assert exc.value.code == 2 and "expected auto, cpu, cuda or cuda:N: tpu" in capsys.readouterr().err


def test_a_remote_cluster_needs_a_prefect_server(monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from factledger.errors import ConfigError
    from flows.runners import workers_api

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        with pytest.raises(ConfigError, match="needs a Prefect server the workers can reach"):
            with workers_api("dask", "tcp://10.0.0.9:8786"):
                pass


def test_chunks_keep_order_and_stay_coarse():
    from flows.runners import chunks

    claims = list(range(10))
    assert chunks(claims, slots=1) == [claims]  # the thread pool: one task, as before
    assert chunks(claims, slots=2) == [claims[:5], claims[5:]]
    assert chunks(claims, slots=8) == [claims[:4], claims[4:8], claims[8:]]  # never under 4 claims a task
    assert chunks(claims, slots=8, size=3) == [claims[:3], claims[3:6], claims[6:9], claims[9:]]
    assert chunks([], slots=4) == []
