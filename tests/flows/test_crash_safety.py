"""A batch killed with SIGKILL mid-run, then re-run: every article processed exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug import Response

from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent

BODIES = [
    "Soviet troops entered Afghanistan in December 1979, and the last of them left the country in February 1989.",
    "On 3 July 2025, Russia officially recognised the Taliban government of Afghanistan as the first country to do so.",
    "The Taliban entered Kabul on 15 August 2021 after the withdrawal of United States troops from Afghanistan.",
    "In December 2022 the Taliban barred women from attending universities across Afghanistan.",
]


def q(db, sql, env):
    out = subprocess.run([str(BIN / "factledger"), "sql", sql, "--db", str(db), "--format", "json"],
                         env=env, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def test_sigkill_then_rerun_processes_each_article_once(httpserver, tmp_path):
    env = {**os.environ, "FACTLEDGER_ALLOW_LOOPBACK": "1", "FACTLEDGER_HOME": str(tmp_path / "home"),
           "PREFECT_HOME": str(tmp_path / "prefect")}
    db = tmp_path / "crash.duckdb"
    subprocess.run([str(BIN / "factledger"), "corpus", "add", str(EXAMPLES / "corpus"), "--db", str(db)],
                   env=env, check=True, capture_output=True, timeout=300)
    stall = threading.Event()
    reached = threading.Event()
    release = threading.Event()

    def article(i):
        def handler(req):
            if i == 2 and stall.is_set():
                reached.set()
                release.wait(60)  # the local server answers one request at a time
            return Response(f"<html><head><title>Story {i}</title></head><body><article><p>{BODIES[i]}</p>"
                            f"</article></body></html>", content_type="text/html; charset=utf-8")
        return handler

    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    for i in range(4):
        httpserver.expect_request(f"/story/{i}").respond_with_handler(article(i))
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(httpserver.url_for(f"/story/{i}") for i in range(4)) + "\n")
    cmd = [str(BIN / "factledger"), "batch", "--url-list", str(urls), "--db", str(db), "--format", "json"]

    stall.set()
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    assert reached.wait(timeout=300), "the batch never reached the third article"
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    stall.clear()
    release.set()
    done_before = q(db, "SELECT count(*) AS n FROM articles", env)[0]["n"]
    assert done_before == 2

    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    assert json.loads(second.stdout.strip().splitlines()[-1]) == {
        "checked": 2, "seen_before": 2, "duplicate_content": 0, "failed": 0}

    assert q(db, "SELECT count(*) AS n FROM articles", env)[0]["n"] == 4
    dupes = q(db, "SELECT (SELECT count(*) - count(DISTINCT (article_id, span_start, span_end, text)) FROM claims) AS c, "
                  "(SELECT count(*) - count(DISTINCT passage_id) FROM passages) AS p, "
                  "(SELECT count(*) - count(DISTINCT (url, raw_sha256, status_reason)) FROM sources) AS s", env)[0]
    assert dupes == {"c": 0, "p": 0, "s": 0}
    per_article = q(db, "SELECT a.ref, count(DISTINCT v.run_id) AS runs FROM articles a JOIN claims c USING (article_id) "
                        "JOIN verdicts v USING (claim_id) GROUP BY 1", env)
    assert per_article and all(r["runs"] == 1 for r in per_article)
    batches = q(db, "SELECT status FROM runs WHERE flow_name = 'batch' ORDER BY started_at", env)
    assert [b["status"] for b in batches] == ["running", "completed"]  # the killed run is still on record
