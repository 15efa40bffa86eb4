"""The deployments on a real Prefect server over loopback: scheduled batch, manual claim, re-check."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import EXAMPLES, ROOT

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent

ARTICLE = """<html><head><title>{title}</title></head><body><article>
<p>{body}</p><p>Share this article</p></article></body></html>"""
ARTICLES = {
    "/news/recognition": ("Recognition", "On 3 July 2025, Russia officially recognised the Taliban government of "
                          "Afghanistan, the first country in the world to do so."),
    "/news/soviet": ("Soviet war", "Soviet troops entered Afghanistan in December 1979 and the last of them left "
                     "in February 1989, ten years later."),
    "/news/kabul": ("Kabul", "The Taliban entered Kabul on 15 August 2021 after the withdrawal of United States "
                    "troops, and the elected government collapsed."),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def feed(server, paths) -> str:
    items = "".join(f"<item><title>{ARTICLES[p][0]}</title><link>{server.url_for(p)}</link></item>" for p in paths)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'


def sql(db: Path, query: str, env: dict) -> list:
    import json

    out = subprocess.run([str(BIN / "factledger"), "sql", query, "--db", str(db), "--format", "json"],
                         env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    return json.loads(out)


def run_deployment(name: str, env: dict, *params: str) -> None:
    args = [str(BIN / "prefect"), "deployment", "run", name, "--watch", "--watch-timeout", "300"]
    for p in params:
        args += ["--param", p]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0 and "Completed" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PREFECT_RUNNER_POLL_FREQUENCY": "1",
           "PREFECT_LOGGING_LEVEL": "WARNING"}
    proc = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).ok:
                break
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline and proc.poll() is None, "prefect server did not start"
        time.sleep(0.5)
    yield env
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def test_deployments_on_a_real_server(prefect_server, httpserver, tmp_path):
    env = {**prefect_server, "FACTLEDGER_ALLOW_LOOPBACK": "1", "FACTLEDGER_HOME": str(tmp_path / "home")}
    db = tmp_path / "served.duckdb"
    subprocess.run([str(BIN / "factledger"), "corpus", "add", str(EXAMPLES / "corpus"), "--db", str(db)],
                   env=env, check=True, capture_output=True, timeout=300)
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    for path, (title, body) in ARTICLES.items():
        httpserver.expect_request(path).respond_with_data(ARTICLE.format(title=title, body=body),
                                                          content_type="text/html; charset=utf-8")
    current = {"paths": ["/news/recognition", "/news/soviet"]}
    httpserver.expect_request("/feed.xml").respond_with_handler(
        lambda req: __import__("werkzeug").Response(feed(httpserver, current["paths"]), content_type="application/rss+xml"))

    serve = subprocess.Popen(
        [str(BIN / "factledger"), "serve", "--db", str(db), "--port", "0", "--feed", httpserver.url_for("/feed.xml"),
         "--cron", "0 0 1 1 *", "--recheck-cron", "0 0 1 1 *"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:  # wait until the four deployments are registered
            out = subprocess.run([str(BIN / "prefect"), "deployment", "ls"], env=env, capture_output=True, text=True)
            if all(n in out.stdout for n in ("batch/scheduled", "check-claim/manual", "recheck/scheduled")):
                break
            assert time.monotonic() < deadline and serve.poll() is None, out.stdout + out.stderr
            time.sleep(1)

        run_deployment("batch/scheduled", env)
        items = sql(db, "SELECT url, status FROM batch_items ORDER BY url", env)
        assert sorted(i["status"] for i in items) == ["checked", "checked"]

        current["paths"].append("/news/kabul")  # a new item appears in the feed
        run_deployment("batch/scheduled", env)
        second = sql(db, "SELECT b.url, b.status FROM batch_items b JOIN runs r USING (run_id) "
                         "WHERE r.flow_name = 'batch' ORDER BY r.started_at DESC, b.url", env)[:3]
        assert sorted(i["status"] for i in second) == ["checked", "seen_before", "seen_before"]
        assert sql(db, "SELECT count(*) AS n FROM articles", env)[0]["n"] == 3

        run_deployment("check-claim/manual", env, "text=Russia recognised the Taliban government on 3 July 2025.")
        manual = sql(db, "SELECT label FROM latest_verdicts WHERE claim_text LIKE 'Russia recognised the Taliban%'", env)
        assert manual and manual[0]["label"] in {"supported", "refuted", "not_enough_evidence", "conflicting"}

        run_deployment("check-article/manual", env, f"article={EXAMPLES / 'sample_article.md'}")
        assert sql(db, "SELECT count(*) AS n FROM articles WHERE ref LIKE '%sample_article.md'", env)[0]["n"] == 1

        before = sql(db, "SELECT count(*) AS n FROM verdicts", env)[0]["n"]
        run_deployment("recheck/scheduled", env, "older_than_days=0")
        after = sql(db, "SELECT count(*) AS n FROM verdicts", env)[0]["n"]
        assert after > before
        history = sql(db, "SELECT claim_id, count(*) AS n FROM verdict_history GROUP BY 1 HAVING n > 1", env)
        assert history
        runs = sql(db, "SELECT flow_name, status FROM runs WHERE flow_name <> 'corpus-add'", env)
        assert {r["flow_name"] for r in runs} >= {"batch", "check-article", "check-claim", "recheck"}
        arts = subprocess.run([str(BIN / "prefect"), "artifact", "ls"], env=env, capture_output=True, text=True)
        assert "batch-summary" in arts.stdout and "claim-verdicts" in arts.stdout
        assert all(r["status"] == "completed" for r in runs)
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
