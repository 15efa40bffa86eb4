from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from factledger.cli import build_parser, main
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


def test_bad_article_is_one_line_error_and_nonzero_exit(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "factledger.cli", "check", str(tmp_path), "--db", str(tmp_path / "x.duckdb")],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert lines == [f"Error: is a directory, not an article file: {tmp_path}"]


def test_check_claim_needs_a_claim(capsys):
    assert main(["check-claim"]) == 1
    assert "no claim given" in capsys.readouterr().err


def test_unknown_provider_is_refused(tmp_path, capsys):
    f = tmp_path / "claims.txt"
    f.write_text("Paris is the capital of France.\n")
    code = main(["check-claim", "--from", str(f), "--provider", "bogus", "--db", str(tmp_path / "p.duckdb"), "--quiet"])
    assert code == 1
    assert re.search(r"unknown provider 'bogus'", capsys.readouterr().err)


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
