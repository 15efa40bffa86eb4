"""The light commands stay light: `--help`, `sql`, `export` and `report` import neither torch nor
Prefect (issue 24: the cold path)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from factledger.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # --help
    code = exc.code
heavy = sorted(m for m in ("torch", "prefect", "transformers", "sentence_transformers", "spacy", "fastapi")
               if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [
    ["--help"],
    ["sql", "select 1"],
    ["export", "--view", "runs", "--out", "{tmp}/runs.csv"],
    ["report", "no-such-article", "--out", "{tmp}/report.html"],
])
def test_light_commands_import_neither_torch_nor_prefect(argv, tmp_path):
    from warehouse.db import connect

    db = tmp_path / "w.duckdb"
    connect(db).close()
    args = [a.format(tmp=tmp_path) for a in argv] + ([] if argv == ["--help"] else ["--db", str(db)])
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    result = json.loads(proc.stderr.strip().splitlines()[-1])
    assert result["heavy"] == [], (argv, result)
    assert result["code"] in (0, 1), (argv, proc.stderr)  # report: no such article is a one-line error
