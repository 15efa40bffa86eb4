"""Limits (factledger.settings.Limits): named, configurable, recorded, refused with a clear error."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from factledger.errors import ConfigError, LimitError
from factledger.settings import Limits
from tests.conftest import EXAMPLES

BIN = Path(sys.executable).parent
ENGLISH = ("The bridge over the river was opened in 1932 after six years of work, and it carried more than "
           "forty thousand cars a day by the end of that decade according to the city's own traffic counts. ")


def test_defaults_environment_and_options(monkeypatch):
    assert Limits().as_dict() == {"max_article_mb": 2.0, "max_claims_per_article": 100, "min_claim_chars": 10}
    monkeypatch.setenv("FACTLEDGER_MAX_ARTICLE_MB", "5")
    monkeypatch.setenv("FACTLEDGER_MAX_CLAIMS_PER_ARTICLE", "40")
    monkeypatch.setenv("FACTLEDGER_MIN_CLAIM_CHARS", "3")
    assert Limits.from_env() == Limits(max_article_mb=5.0, max_claims_per_article=40, min_claim_chars=3)
    assert Limits.from_env(max_article_mb=0.5, max_claims_per_article=None).max_article_mb == 0.5  # the option wins
    for bad in ("zero", "0", "-1"):
        monkeypatch.setenv("FACTLEDGER_MAX_CLAIMS_PER_ARTICLE", bad)
        with pytest.raises(ConfigError, match=f"FACTLEDGER_MAX_CLAIMS_PER_ARTICLE must be a positive number: {bad}"):
            Limits.from_env()


def test_checks_name_the_limit_and_the_input():
    limits = Limits(max_article_mb=0.001, min_claim_chars=10)
    limits.check_article_text("x" * 1000, "a.md")
    with pytest.raises(LimitError, match=r"article text too large \(0.00101 MB, limit 0.001 MB; --max-article-mb or "
                                         r"FACTLEDGER_MAX_ARTICLE_MB\): a.md") as exc:
        limits.check_article_text("x" * 1010, "a.md")
    assert exc.value.reason == "article_too_large"
    limits.check_claim_text("Ice melts.")
    with pytest.raises(LimitError, match=r"claim too short \(1 character, at least 10; FACTLEDGER_MIN_CLAIM_CHARS\): 'x'"):
        limits.check_claim_text("  x ")


def run(argv: list[str], env: dict, **kwargs) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "factledger"), *argv], capture_output=True, text=True, timeout=120, env=env, **kwargs)
    return proc, time.monotonic() - started


def test_an_article_over_the_size_limit_is_refused_before_anything_starts(tmp_path):
    env = {**os.environ, "FACTLEDGER_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect")}
    db = tmp_path / "never.duckdb"
    big = tmp_path / "big.txt"
    big.write_text(ENGLISH * (2_100_000 // len(ENGLISH)), encoding="utf-8")  # 2.1 MB: over the default 2 MB
    proc, seconds = run(["check", str(big), "--db", str(db)], env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (f"Error: article text too large (2.1 MB, limit 2 MB; --max-article-mb or "
                           f"FACTLEDGER_MAX_ARTICLE_MB): {big}\n")
    assert seconds < 5.0
    small = tmp_path / "small.txt"
    small.write_text(ENGLISH * 10, encoding="utf-8")  # 1.9 KB
    proc, _ = run(["check", str(small), "--db", str(db), "--max-article-mb", "0.001"], env)
    assert proc.returncode == 2 and "limit 0.001 MB" in proc.stderr
    proc, _ = run(["check", str(small), "--db", str(db)], {**env, "FACTLEDGER_MAX_ARTICLE_MB": "0.0015"})
    assert proc.returncode == 2 and "limit 0.0015 MB" in proc.stderr
    proc, _ = run(["check", str(small), "--db", str(db)], {**env, "FACTLEDGER_MAX_ARTICLE_MB": "lots"})
    assert proc.returncode == 1 and proc.stderr == "Error: FACTLEDGER_MAX_ARTICLE_MB must be a positive number: lots\n"
    proc, _ = run(["check", str(small), "--db", str(db), "--max-article-mb", "0"], env)
    assert proc.returncode == 2 and "--max-article-mb: must be positive: 0" in proc.stderr  # argparse
    assert not db.exists() and not (tmp_path / "prefect").exists()


def test_short_claims_are_refused(tmp_path):
    env = {**os.environ, "FACTLEDGER_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect")}
    db = tmp_path / "never.duckdb"
    for claim in ("x", "Too short"):
        proc, seconds = run(["check-claim", claim, "--db", str(db)], env)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == (f"Error: claim too short ({len(claim)} character{'s' if len(claim) > 1 else ''}, "
                               f"at least 10; FACTLEDGER_MIN_CLAIM_CHARS): {claim!r}\n")
        assert seconds < 5.0
    claims = tmp_path / "claims.jsonl"
    claims.write_text(json.dumps({"id": "a", "claim": "Paris is the capital of France."}) + "\n"
                      + json.dumps({"id": "b", "claim": "?"}) + "\n", encoding="utf-8")
    proc, _ = run(["check-claim", "--from", str(claims), "--db", str(db)], env)
    assert proc.returncode == 2
    assert proc.stderr == (f"Error: claim 2 ('?') too short (1 character, at least 10; FACTLEDGER_MIN_CLAIM_CHARS): "
                           f"{claims}\n")
    assert not db.exists() and not (tmp_path / "prefect").exists()


class Recorder(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_claims_over_the_cap_are_cut_with_a_warning(splitter):
    """Without --max-claims an article's claims are capped at max_claims_per_article, best first,
    and a warning says how many there were; with --max-claims the caller chose, no warning."""
    import flows
    from extractors.articles import load_article
    from extractors.checkworthy import RuleScorer
    from factledger.app import Runtime
    from flows.check import _claims
    from tests.fakes import HashingEmbedder

    recorder = Recorder()  # not caplog: importing Prefect re-configures the root logger's handlers
    logging.getLogger("flows.steps").addHandler(recorder)  # the step the flows and local checks share
    flows.set_runtime(Runtime(splitter=splitter, embedder=HashingEmbedder(), scorer=RuleScorer()))
    try:
        art = load_article(str(EXAMPLES / "sample_article.md"))
        everything = _claims(art, None, None, cap=1000)
        assert len(everything) > 2 and recorder.messages == []
        assert _claims(art, None, None, cap=2) == everything[:2]
        assert recorder.messages == [
            f"{art.ref} has {len(everything)} check-worthy claims: verifying the 2 most check-worthy "
            f"(--max-claims N or FACTLEDGER_MAX_CLAIMS_PER_ARTICLE to change the limit)"]
        assert _claims(art, 2, None, cap=1) == everything[:2]  # asked for: no warning
        assert len(recorder.messages) == 1
    finally:
        flows.set_runtime(None)
        logging.getLogger("flows.steps").removeHandler(recorder)
