from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import fields

import pytest

from factledger.cli import build_parser, main
from factledger.settings import Limits
from tests.conftest import EXAMPLES, ROOT


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    names = []
    for name, sub in action.choices.items():
        nested = [a for a in sub._actions if getattr(a, "choices", None) and a.dest.endswith("_command")]
        names += [f"{name} {n}" for n in nested[0].choices] if nested else [name]
    return names


@pytest.mark.parametrize("command", subcommands())
def test_every_subcommand_is_in_the_readme(command):
    assert f"factledger {command}" in (ROOT / "README.md").read_text()


def test_every_environment_setting_is_in_the_readme():
    """Each FACTLEDGER_* variable the product reads is in README's settings table."""
    names = set()
    for package in ("factledger", "flows", "verifiers", "extractors", "warehouse"):
        for f in (ROOT / package).rglob("*.py"):
            names |= set(re.findall(r"\bFACTLEDGER_[A-Z][A-Z_]*[A-Z]\b", f.read_text(encoding="utf-8")))
    names |= {f"FACTLEDGER_{f.name.upper()}" for f in fields(Limits)}  # read as FACTLEDGER_<NAME>
    assert "FACTLEDGER_ALLOW_LOOPBACK" in names
    table = (ROOT / "README.md").read_text(encoding="utf-8").split("### Settings in the environment", 1)[1]
    table = table.split("\n## ", 1)[0]
    assert sorted(n for n in names if f"`{n}`" not in table) == []


def test_corpus_add_then_sql_formats(tmp_path, capsys):
    db = tmp_path / "cli.duckdb"
    assert main(["corpus", "add", str(EXAMPLES / "corpus"), "--db", str(db)]) == 0
    assert "added 10 documents, 34 passages" in capsys.readouterr().out
    assert main(["sql", "SELECT provider, count(*) AS n FROM sources GROUP BY 1", "--db", str(db), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"provider": "corpus", "n": 10}]
    assert main(["sql", "SELECT 1 AS a, 'x' AS b", "--db", str(db), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["a,b", "1,x"]


def test_sql_is_read_only(tmp_path, capsys):
    db = tmp_path / "ro.duckdb"
    assert main(["corpus", "add", str(EXAMPLES / "corpus" / "landmarks.jsonl"), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["sql", "DELETE FROM passages", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: only read queries") and err.count("\n") == 1
    assert main(["sql", "SELECT count(*) AS n FROM passages", "--db", str(db), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["n"] > 0


def test_bad_article_is_one_line_error_and_exit_code_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "factledger.cli", "check", str(tmp_path), "--db", str(tmp_path / "x.duckdb")],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr == f"Error: is a directory, not an article file: {tmp_path}\n"


def test_check_claim_needs_a_claim(capsys):
    assert main(["check-claim"]) == 2
    assert capsys.readouterr().err == "Error: no claim given (pass TEXT or --from FILE)\n"


def test_unknown_provider_is_refused(tmp_path, capsys):
    f = tmp_path / "claims.txt"
    f.write_text("Paris is the capital of France.\n")
    code = main(["check-claim", "--from", str(f), "--provider", "bogus", "--db", str(tmp_path / "p.duckdb"), "--quiet"])
    assert code == 2
    assert re.fullmatch(r"Error: unknown provider \(choose from corpus, .*\): bogus\n", capsys.readouterr().err)
    assert not (tmp_path / "p.duckdb").exists()


def test_sql_refuses_several_statements(tmp_path, capsys):
    from warehouse.db import connect

    db = tmp_path / "multi.duckdb"
    connect(db).close()
    assert main(["sql", "SELECT 1 AS a; SELECT 2 AS b", "--db", str(db)]) == 1
    assert capsys.readouterr().err == "Error: one statement at a time (2 given, separated by ';'): SELECT 1 AS a; SELECT 2 AS b\n"
    assert main(["sql", "SELECT 1 AS a;", "--db", str(db), "--format", "csv"]) == 0  # a trailing ';' is one statement
    assert capsys.readouterr().out.splitlines() == ["a", "1"]


HEAVY = ("torch", "transformers", "prefect", "spacy", "duckdb", "sentence_transformers", "trafilatura", "rich")


@pytest.mark.parametrize("argv, heavy_allowed", [
    (["--help"], ()),
    (["check", "--help"], ()),
    (["sql", "SELECT 1 AS one"], ("duckdb",)),
])
def test_help_and_sql_stay_light(tmp_path, argv, heavy_allowed):
    """`--help` and a query import neither the models nor Prefect."""
    from warehouse.db import connect

    db = tmp_path / "light.duckdb"
    connect(db).close()
    script = ("import json, sys\nfrom factledger.cli import main\n"
              f"try:\n    code = main({[*argv, '--db', str(db)] if argv[0] == 'sql' else argv!r})\n"
              "except SystemExit as exc:\n    code = exc.code\n"
              f"print(json.dumps([code, sorted(m for m in {HEAVY!r} if m in sys.modules)]))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    code, loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert code == 0, proc.stderr
    assert [m for m in loaded if m not in heavy_allowed] == []


def test_factcheck_key_variables_match_the_provider():
    from factledger.cli import FACTCHECK_KEY_VARS
    from verifiers.web import FACTCHECK_KEY_VARS as provider_vars

    assert FACTCHECK_KEY_VARS == provider_vars


def test_trainer_options_reach_the_trainer(capsys):
    # `train stance --help` must be the trainer's own help, not a parse error of the top-level CLI.
    with pytest.raises(SystemExit) as exc:
        main(["train", "stance", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: factledger train stance" in out and "--max-pairs" in out


def test_trainer_options_keep_their_order(monkeypatch):
    # An option with a value (`--base DIR`) must reach the trainer as given, value after option.
    import training.stance as ts

    seen = []
    monkeypatch.setattr(ts, "run", lambda argv: seen.append(argv) or 0)
    assert main(["-v", "train", "stance", "--base", "models/stance", "--out", "x", "--bf16"]) == 0
    assert seen == [["--base", "models/stance", "--out", "x", "--bf16"]]


def test_unknown_option_outside_train_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sql", "SELECT 1", "--no-such-option"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err


def test_cuda_without_a_gpu_is_a_one_line_config_error(monkeypatch):
    import torch

    from factledger.errors import ConfigError
    from verifiers.embed import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu" and resolve_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="expected auto, cpu, cuda"):
        resolve_device("tpu")


def test_claims_file_keeps_each_lines_id_and_text_as_given(tmp_path):
    from factledger.app import read_claims_file

    f = tmp_path / "claims.jsonl"
    f.write_text('{"id": 17, "claim": "Big Ben  was completed in 1859."}\n\n{"claim": "No id here."}\n', encoding="utf-8")
    assert read_claims_file(str(f)) == [("17", "Big Ben  was completed in 1859."), (None, "No id here.")]
    plain = tmp_path / "claims.txt"
    plain.write_text("One claim.\nAnother claim.\n", encoding="utf-8")
    assert read_claims_file(str(plain)) == [(None, "One claim."), (None, "Another claim.")]


def test_the_same_text_under_two_ids_is_two_claims():
    from extractors.claims import claims_from_texts

    a, b, c = claims_from_texts(["X was built in 1900.", "X  was built in 1900.", "X was built in 1900."],
                                ["a", "b", None])
    assert a.text == b.text == c.text and b.sentence_text == "X  was built in 1900."
    assert len({a.claim_id, b.claim_id, c.claim_id}) == 3


@pytest.mark.slow
def test_an_article_url_is_fetched_once(tmp_path, httpserver):
    """The URL is fetched while the input is checked, before the models load, and the run uses
    that copy: the page is requested once, and a failed run names its run id."""
    import os

    page = ("<html><head><title>Tower</title></head><body><article><p>The Eiffel Tower in Paris was completed "
            "in 1889 for the world's fair. It is about 330 metres tall including its antennas, and it was the "
            "tallest man-made structure in the world until 1930.</p></article></body></html>")
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/tower").respond_with_data(page, content_type="text/html; charset=utf-8")
    env = {**os.environ, "FACTLEDGER_ALLOW_LOOPBACK": "1", "FACTLEDGER_HOME": str(tmp_path / "home")}
    db = tmp_path / "url.duckdb"
    subprocess.run([sys.executable, "-m", "factledger.cli", "corpus", "add", str(EXAMPLES / "corpus"), "--db", str(db)],
                   check=True, capture_output=True, timeout=600, env=env)
    url = httpserver.url_for("/tower")
    proc = subprocess.run([sys.executable, "-m", "factledger.cli", "check", url, "--db", str(db), "--quiet",
                           "--format", "json"], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(proc.stdout)
    assert rows and all(r["article"] == url for r in rows)
    assert [str(req.path) for req, _ in httpserver.log].count("/tower") == 1
    # A failure after the run started (a search service that refuses JSON): one line with the run id.
    httpserver.expect_request("/sx/search").respond_with_data("forbidden", status=403, content_type="text/plain")
    proc = subprocess.run([sys.executable, "-m", "factledger.cli", "check", url, "--db", str(db), "--quiet",
                           "--provider", "searxng"], capture_output=True, text=True, timeout=600,
                          env={**env, "FACTLEDGER_SEARXNG_URL": httpserver.url_for("/sx")})
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert re.fullmatch(r"Error: SearXNG refused JSON output \(HTTP 403\).* \(run [0-9a-f-]{36}\)\n", proc.stderr), proc.stderr
