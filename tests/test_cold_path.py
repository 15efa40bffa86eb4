"""The light commands stay light: `--help`, `sql`, `export` and `report` import neither torch nor
Prefect, nor pandas and numpy (which DuckDB imports to bind a parameter) (issue 24: the cold path)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.warehouse.test_exports import checked_db  # noqa: F401 -- a warehouse with a checked article

PROBE = """
import json, sys
from factledger.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # --help
    code = exc.code
heavy = sorted(m for m in ("torch", "prefect", "transformers", "sentence_transformers", "spacy", "fastapi",
                           "pandas", "numpy") if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [
    ["--help"],
    ["sql", "select 1"],
    ["export", "--view", "runs", "--out", "{tmp}/runs.csv"],
    ["export", "--format", "claimreview", "--article", "{article}", "--out", "{tmp}/reviews.json"],
    ["report", "{article}", "--out", "{tmp}/report.html"],
])
def test_light_commands_import_neither_torch_nor_prefect(argv, tmp_path, checked_db):
    db, article = checked_db
    args = [a.format(tmp=tmp_path, article=article.ref) for a in argv] + ([] if argv == ["--help"] else ["--db", str(db)])
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    result = json.loads(proc.stderr.strip().splitlines()[-1])
    assert result == {"code": 0, "heavy": []}, (argv, proc.stderr[-2000:])
    if argv[0] in ("export", "report"):  # the whole command ran: the article's claims are in its output
        out = (tmp_path / argv[-1].rsplit("/", 1)[1]).read_text()
        assert argv[1] == "--view" or "claimReviewed" in out or 'id="c-' in out, out[:500]
