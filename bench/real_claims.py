"""Verdicts on real fact-checked claims, end to end through the product: AVeriTeC dev (half A).

Every evidence item of ../shared/data/averitec-dev-a (710 question-answer items from the web pages
the annotators cited) is ingested as one corpus passage, "question + answer", with its source URL
(`factledger corpus add`); every one of the 249 claims is checked with `factledger check-claim
--from FILE --provider corpus`; the verdicts are read back from the DuckDB file. So this measures
retrieval among ~700 distractors, stance and aggregation together, as a user would run them.

    .venv/bin/python bench/real_claims.py [--stance-model DIR] [--keep DIR]

Prints one JSON object: accuracy, macro-F1, per-class precision / recall / F1, the confusion matrix,
the majority-class baseline of the same claims, selective accuracy where `needs_review` is false
with its coverage, the expected calibration error of the confidence, and the seconds taken.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training.verdict import averitec_evidence_records  # noqa: E402  (one record per evidence item, as training fits on)

LABELS = ("SUPPORTED", "REFUTED", "NOT_ENOUGH_INFO", "CONFLICTING")
PRODUCT = {"supported": "SUPPORTED", "refuted": "REFUTED", "not_enough_evidence": "NOT_ENOUGH_INFO",
           "conflicting": "CONFLICTING"}


def shared_data() -> Path:
    return Path(os.environ.get("FACTLEDGER_SHARED") or ROOT.parent / "shared") / "data"


def load_claims(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def metrics(gold: list[str], pred: list[str], conf: list[float], review: list[bool]) -> dict:
    n = len(gold)
    per_class = {}
    for lab in LABELS:
        tp = sum(1 for g, p in zip(gold, pred) if g == lab and p == lab)
        fp = sum(1 for g, p in zip(gold, pred) if g != lab and p == lab)
        fn = sum(1 for g, p in zip(gold, pred) if g == lab and p != lab)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class[lab] = {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4),
                          "gold": tp + fn, "predicted": tp + fp}
    acc = sum(1 for g, p in zip(gold, pred) if g == p) / n
    majority = Counter(gold).most_common(1)[0]
    maj_f1 = 2 * (majority[1] / n) / (1 + majority[1] / n) / len(LABELS)
    kept = [(g, p) for g, p, r in zip(gold, pred, review) if not r]
    # ECE: confidence as the probability that the verdict is right, 10 equal-width bins
    bins: dict[int, list[tuple[float, bool]]] = {}
    for g, p, c in zip(gold, pred, conf):
        bins.setdefault(min(int(c * 10), 9), []).append((c, g == p))
    ece = sum(len(b) / n * abs(sum(c for c, _ in b) / len(b) - sum(ok for _, ok in b) / len(b)) for b in bins.values())
    return {
        "claims": n,
        "accuracy": round(acc, 4),
        "macro_f1": round(sum(v["f1"] for v in per_class.values()) / len(LABELS), 4),
        "per_class": per_class,
        "confusion": {g: {p: sum(1 for a, b in zip(gold, pred) if a == g and b == p) for p in LABELS} for g in LABELS},
        "majority_baseline": {"label": majority[0], "accuracy": round(majority[1] / n, 4), "macro_f1": round(maj_f1, 4)},
        "selective": {"coverage": round(len(kept) / n, 4),
                      "accuracy": round(sum(1 for g, p in kept if g == p) / len(kept), 4) if kept else None},
        "ece": round(ece, 4),
    }


def run(args) -> dict:
    data = shared_data() / "averitec-dev-a" / "claims.jsonl"
    if not data.is_file():
        raise SystemExit(f"Error: AVeriTeC dev-a data not found: {data}")
    claims = load_claims(data)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="factledger-real-claims-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "averitec.duckdb"
    if db.exists():
        db.unlink()
    (work / "evidence.jsonl").write_text("".join(json.dumps(r) + "\n" for r in averitec_evidence_records(claims)),
                                         encoding="utf-8")
    (work / "claims.jsonl").write_text("".join(json.dumps({"id": c["id"], "claim": c["claim"]}) + "\n" for c in claims),
                                       encoding="utf-8")
    env = dict(os.environ, PREFECT_HOME=str(work / ".prefect"), FACTLEDGER_HOME=str(work / "home"),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    if args.stance_model:
        env["FACTLEDGER_STANCE_MODEL"] = str(Path(args.stance_model).resolve())
    exe = [str(Path(sys.executable).parent / "factledger")]
    t0 = time.time()
    add = subprocess.run([*exe, "corpus", "add", str(work / "evidence.jsonl"), "--db", str(db)], env=env,
                         capture_output=True, text=True, cwd=ROOT)
    if add.returncode:
        raise SystemExit(f"Error: corpus add failed: {add.stderr.strip().splitlines()[-1:]}")
    t_ingest = time.time() - t0
    check = subprocess.run([*exe, "check-claim", "--from", str(work / "claims.jsonl"), "--db", str(db),
                            "--provider", "corpus", "--format", "json", "--quiet"], env=env,
                           capture_output=True, text=True, cwd=ROOT)
    if check.returncode:
        raise SystemExit(f"Error: check-claim failed: {check.stderr.strip().splitlines()[-3:]}")
    t_check = time.time() - t_ingest - t0

    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    passages = con.execute("SELECT count(*) FROM passages").fetchone()[0]
    docs_with_passages = con.execute(
        "SELECT count(DISTINCT source_id) FROM passages JOIN sources USING (source_id) WHERE provider = 'corpus'").fetchone()[0]
    rows = con.execute("""
        SELECT c.text, v.label, v.confidence, v.needs_review
        FROM verdicts v JOIN claims c USING (claim_id)
        WHERE v.run_id = (SELECT run_id FROM runs WHERE flow_name = 'check-claim' ORDER BY started_at DESC LIMIT 1)
    """).fetchall()
    run_row = con.execute("SELECT stance_model, stance_revision, thresholds FROM runs WHERE flow_name = 'check-claim' "
                          "ORDER BY started_at DESC LIMIT 1").fetchone()
    con.close()
    by_text = {" ".join(text.split()): (label, conf, review) for text, label, conf, review in rows}
    gold, pred, conf, review = [], [], [], []
    missing = 0
    for c in claims:
        got = by_text.get(" ".join(c["claim"].split()))
        if got is None:
            missing += 1
            got = ("not_enough_evidence", 0.0, True)
        gold.append(c["label"])
        pred.append(PRODUCT[got[0]])
        conf.append(float(got[1]))
        review.append(bool(got[2]))
    used = json.loads(run_row[2]) if run_row[2] else {}
    out = {"bench": "real_claims", "dataset": "averitec-dev-a", "stance": f"{run_row[0]} {run_row[1]}",
           "verdict_aggregator": used.get("verdict_aggregator"), "evidence_reader": used.get("evidence_reader"),
           "evidence_items": sum(len(c["evidence"]) for c in claims), "documents_with_passages": docs_with_passages,
           "passages": passages, "claims_without_verdict": missing}
    out.update(metrics(gold, pred, conf, review))
    out["predicted"] = dict(Counter(pred))
    out["seconds"] = {"ingest": round(t_ingest, 1), "check": round(t_check, 1)}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stance-model", help="stance artefact folder to use instead of models/stance")
    p.add_argument("--keep", help="work folder to keep (corpus, claims, DuckDB file)")
    print(json.dumps(run(p.parse_args()), indent=1))


if __name__ == "__main__":
    main()
