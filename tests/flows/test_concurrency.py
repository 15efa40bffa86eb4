"""Processes sharing one DuckDB file: two `factledger check` writers and an analyst reading meanwhile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def test_two_writers_and_a_reader(tmp_path, seed_path):
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "FACTLEDGER_HOME": str(tmp_path / "home")}
    db = tmp_path / "shared.duckdb"
    fl = str(BIN / "factledger")
    subprocess.run([fl, "corpus", "add", str(EXAMPLES / "corpus"), "--db", str(db)], env=env, check=True,
                   capture_output=True, timeout=300)
    writers = [subprocess.Popen([fl, "check", str(article), "--db", str(db), "--quiet", "--format", "json"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for article in (seed_path, EXAMPLES / "sample_article.md")]
    reads, failures = 0, []
    while any(w.poll() is None for w in writers):
        r = subprocess.run([fl, "sql", "SELECT count(*) AS n FROM runs", "--db", str(db), "--format", "json"],
                           env=env, capture_output=True, text=True, timeout=120)
        reads += 1
        if r.returncode != 0:
            failures.append(r.stderr)
        time.sleep(0.2)
    outs = [w.communicate() for w in writers]
    assert [w.returncode for w in writers] == [0, 0], [o[1][-2000:] for o in outs]
    assert reads >= 2 and failures == []
    out = subprocess.run([fl, "sql", "SELECT flow_name, status, count(*) AS n FROM runs GROUP BY ALL ORDER BY 1",
                          "--db", str(db), "--format", "json"], env=env, capture_output=True, text=True, check=True)
    rows = json.loads(out.stdout)
    assert {"flow_name": "check-article", "status": "completed", "n": 2} in rows
    arts = subprocess.run([fl, "sql", "SELECT count(*) AS n FROM articles", "--db", str(db), "--format", "json"],
                          env=env, capture_output=True, text=True, check=True)
    assert json.loads(arts.stdout)[0]["n"] == 2
