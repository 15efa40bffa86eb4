"""Verdict benchmark: the trained stance model and the real verifier against a similarity-only
baseline, in one run.

    python bench/verdicts.py [--model models/stance] [--climate-claims 0] [--wice-claims 0]
                             [--tune-rules] [--write-card]

Prints ONE JSON object. Data is read in place from ../shared/data (or $FACTLEDGER_SHARED); caches
(embeddings, the CLIMATE-FEVER warehouse) go to bench/out/cache (gitignored).

- FEVER-Symmetric test (712 claims, the gold evidence sentence given): supports vs refutes
  accuracy; the model says "supported" when P(support) > P(refute) (after the year / unit rule of
  `verifiers.stance_model.number_conflict`, whose weight --tune-rules chooses on FEVER-Symmetric
  DEV). Baseline: cosine(claim, evidence) >= a threshold chosen on dev (similarity only).
- CLIMATE-FEVER (1,535 claims; 0 = all): every evidence sentence of the set, grouped by Wikipedia
  article, ingested by `factledger corpus add`'s own `ingest` into one DuckDB warehouse; each claim
  checked by the product's `Verifier` against it (BM25 + embeddings fused, stance on the pool,
  top 5 kept, the fitted aggregator (`models/verdict`), else `decide` with the default Thresholds).
  With an aggregator fitted on CLIMATE-FEVER's dev half (`factledger train verdict --sets ...
  climate-fever`), only the other half is measured, baselines on the same claims. Accuracy and macro-F1 over the 4 labels
  (SUPPORTED, REFUTED, NOT_ENOUGH_INFO, DISPUTED = conflicting), and evidence recall@5: the share of
  the 1,061 claims with gold evidence whose kept 5 hold a gold sentence. Baseline: the 5 nearest
  passages by cosine alone; supported when the nearest has cosine >= support_min_similarity, else
  not enough evidence (similarity cannot refute).
- WiCE test (358 claims; 0 = all): the sentences of each claim's cited page are the candidates of
  the same `Verifier`; recall@5 = mean share of the best gold set among the 5 kept evidence
  passages (and `wice_full_set_at_5`), claim accuracy 2-way: SUPPORTED vs not (PARTIALLY_SUPPORTED,
  NOT_SUPPORTED). Baseline: cosine top 5 and the same similarity rule.
- ECE (15 equal-width bins): of the calibrated stance confidence (max class probability) on the NLI
  pairs that training held out from everything (`heldout_pairs` in meta.json; the dev split that
  chose the checkpoint and fitted the temperature when the artefact has none), and of the verdict
  confidence on FEVER-Symmetric test. The reliability diagram goes to bench/out/reliability.png.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

from extractors.claims import claims_from_texts  # noqa: E402
from factledger.records import Label  # noqa: E402
from factledger.settings import Thresholds  # noqa: E402
from training.stance import fever_text  # noqa: E402
from verifiers.evidence import normalize_quantities  # noqa: E402
from verifiers.calibration import expected_calibration_error, reliability_bins  # noqa: E402
from verifiers.verdict import decide  # noqa: E402

SHARED = Path(os.environ.get("FACTLEDGER_SHARED") or ROOT.parent / "shared")
DATA = SHARED / "data"
OUT = ROOT / "bench" / "out"
CLIMATE_MAP = {"SUPPORTED": Label.SUPPORTED, "REFUTED": Label.REFUTED,
               "NOT_ENOUGH_INFO": Label.NOT_ENOUGH_EVIDENCE, "CONFLICTING": Label.CONFLICTING}
ECE_BINS = 15


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def macro_f1(gold: list, pred: list, classes: list) -> float:
    f1s = []
    for c in classes:
        tp = sum(1 for g, p in zip(gold, pred) if g == c and p == c)
        fp = sum(1 for g, p in zip(gold, pred) if g != c and p == c)
        fn = sum(1 for g, p in zip(gold, pred) if g == c and p != c)
        f1s.append(2 * tp / max(1, 2 * tp + fp + fn))
    return float(np.mean(f1s))


def cached_encode(embedder, texts: list[str], name: str) -> np.ndarray:
    """Embeddings cached under bench/out/cache (gitignored), keyed by the texts and the embedder."""
    import hashlib

    key = hashlib.sha256(("\x1f".join([embedder.revision, *texts])).encode()).hexdigest()[:16]
    path = OUT / "cache" / f"{name}-{key}.npy"
    if path.exists():
        return np.load(path)
    mat = embedder.encode(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, mat)
    return mat


def _sample(rows: list[dict], n: int, seed: int) -> list[dict]:
    return rows if not n or n >= len(rows) else random.Random(seed).sample(rows, n)


def ece(conf, correct) -> float:
    return round(expected_calibration_error(conf, correct, n_bins=ECE_BINS), 4)


# ---------------------------------------------------------------- FEVER-Symmetric (evidence given)

def bench_fever(stance, embedder, tune_rules: bool) -> dict:
    from verifiers.stance_model import number_conflict

    dev = _jsonl(DATA / "fever-symmetric" / "claims_dev.jsonl")
    test = _jsonl(DATA / "fever-symmetric" / "claims_test.jsonl")

    def texts(rows):  # as the product feeds the stance model: quantities normalised (verifiers.evidence)
        return ([normalize_quantities(fever_text(r["claim"])) for r in rows],
                [normalize_quantities(fever_text(r["evidence"][0]["text"])) for r in rows])

    def cos(rows, name):
        c, e = texts(rows)
        return (cached_encode(embedder, c, f"fever-{name}-claims") * cached_encode(embedder, e, f"fever-{name}-ev")).sum(1)

    dev_gold = np.array([r["label"] == "SUPPORTED" for r in dev])
    test_gold = np.array([r["label"] == "SUPPORTED" for r in test])
    dev_cos, test_cos = cos(dev, "dev"), cos(test, "test")
    thr = float(max(np.unique(np.round(dev_cos, 3)), key=lambda x: ((dev_cos >= x) == dev_gold).mean()))
    base_pred = test_cos >= thr
    base_conf = np.where(base_pred, test_cos, 1 - test_cos).clip(0, 1)
    e, c = stance.labels.index("entailment"), stance.labels.index("contradiction")

    def scored(rows):
        claims, evidence = texts(rows)
        probs = stance.calibration.probabilities(stance.logits(evidence, claims))
        return probs, np.array([number_conflict(cl, ev) for cl, ev in zip(claims, evidence)])

    def two_way(probs, flags, w):
        s, r = probs[:, e].copy(), probs[:, c].copy()
        moved = np.where(flags, s * w, 0.0)
        return s - moved, r + moved

    t0 = time.time()
    by_w = {}
    dev_probs, dev_flags = scored(dev)
    if tune_rules:  # the rule weight is chosen on dev, never on test
        for w in (0.0, 0.25, 0.5, 0.75, 1.0):
            s, r = two_way(dev_probs, dev_flags, w)
            by_w[w] = round(float(((s > r) == dev_gold).mean()), 4)
        stance.rule_weight = max(by_w, key=lambda w: (by_w[w], -w))
    w = stance.rule_weight
    s_dev, r_dev = two_way(dev_probs, dev_flags, w)
    probs, flags = scored(test)
    s0, r0 = two_way(probs, flags, 0.0)
    s, r = two_way(probs, flags, w)
    pred = s > r
    conf = np.maximum(s, r) / np.clip(s + r, 1e-9, None)
    correct = pred == test_gold
    return {
        "fever_symmetric_acc": round(float(correct.mean()), 4),
        "fever_symmetric_majority_acc": round(float(max(test_gold.mean(), 1 - test_gold.mean())), 4),
        "fever_symmetric_acc_model_only": round(float(((s0 > r0) == test_gold).mean()), 4),
        "fever_symmetric_dev_acc": round(float(((s_dev > r_dev) == dev_gold).mean()), 4),
        "rule_weight": w,
        "rule_weight_dev_acc": {str(k): v for k, v in by_w.items()},
        "fever_symmetric_number_conflicts": int(flags.sum()),
        "fever_symmetric_n": len(test),
        "fever_symmetric_ece": ece(conf, correct),
        "baseline_fever_symmetric_acc": round(float((base_pred == test_gold).mean()), 4),
        "baseline_fever_symmetric_threshold": round(thr, 3),
        "baseline_fever_symmetric_ece": ece(base_conf, base_pred == test_gold),
        "_fever_conf": conf.tolist(), "_fever_correct": correct.tolist(),
        "fever_symmetric_seconds": round(time.time() - t0, 1),
    }


# ---------------------------------------------------------------- CLIMATE-FEVER (retrieval included)

def climate_warehouse(embedder, splitter) -> Path:
    """Every CLIMATE-FEVER evidence sentence, one document per Wikipedia article, in a DuckDB
    warehouse built by FactLedger's own ingest (cached, keyed by the embedder revision)."""
    from factledger.corpus import ingest
    from warehouse.db import connect, schema_version

    from training.verdict import climate_records

    rows = _jsonl(DATA / "climate-fever" / "claims.jsonl")
    key = re.sub(r"[^a-z0-9]+", "-", embedder.revision.lower())[:40]
    # The schema version is in the name: a cached warehouse built before a migration (read-only here,
    # so never migrated) would otherwise be searched without what the migration added.
    path = OUT / "cache" / f"climate-fever-{key}-s{schema_version():03d}.duckdb"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    docs = path.with_suffix(".jsonl")
    with docs.open("w", encoding="utf-8") as fh:
        for rec in climate_records(rows):
            fh.write(json.dumps(rec) + "\n")
    tmp = path.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    con = connect(tmp)
    try:
        ingest(con, "bench-climate-fever", [docs], splitter, embedder)
    finally:
        con.close()
    os.replace(tmp, path)
    return path


def _gold_hit(passage_text: str, gold: set[str]) -> bool:
    p = _norm(passage_text)
    return any(g and (g in p or p in g) for g in gold)


# Verdict thresholds --tune-thresholds searches (factledger.settings.Thresholds).
TUNED = {"support_min_similarity": (0.5, 0.55, 0.62, 0.68), "topical_min_similarity": (0.45, 0.55, 0.62),
         "stance_min_prob": (0.5, 0.6, 0.7, 0.8), "conflict_min_prob": (0.6, 0.7, 0.8, 0.9, 1.01)}


def climate_halves(rows: list[dict]) -> tuple[list[int], list[int]]:
    """A seeded half of the claims to choose thresholds on, and the other half to measure
    (`training.verdict.climate_halves`: the fitted aggregator learnt from the first half)."""
    from training.verdict import climate_halves as halves

    return halves(len(rows))


def tune_thresholds(evidence: list, gold: list, t: Thresholds) -> Thresholds:
    """The grid point of `TUNED` with the best 4-way accuracy of `decide` (ties: the default's side)."""
    import itertools

    best, best_acc = t, -1.0
    for values in itertools.product(*TUNED.values()):
        cand = replace(t, **dict(zip(TUNED, values)))
        acc = float(np.mean([decide("c", ev, cand).label is g for ev, g in zip(evidence, gold)]))
        if acc > best_acc + 1e-9:
            best, best_acc = cand, acc
    return best


def bench_climate(stance, embedder, splitter, t: Thresholds, n_claims: int, seed: int, tune: bool = False,
                  aggregator=None, reader=None) -> dict:
    from verifiers.pipeline import Verifier
    from verifiers.providers import CorpusProvider
    from warehouse.db import opened

    rows = _jsonl(DATA / "climate-fever" / "claims.jsonl")
    out: dict = {}
    if aggregator is not None and "CLIMATE-FEVER" in aggregator.origin:  # fitted on the dev half: measure the other
        rows = [rows[i] for i in climate_halves(rows)[1]]
        out["climate_fever_measured_on"] = f"the test half ({len(rows)} claims); the aggregator was fitted on the other"
    sample = _sample(rows, n_claims, seed)
    t0 = time.time()
    path = climate_warehouse(embedder, splitter)
    build_s = time.time() - t0
    claims = claims_from_texts([r["claim"] for r in sample])
    t0 = time.time()
    with opened(path, read_only=True) as con:
        results = Verifier([CorpusProvider(con)], embedder, stance, t, aggregator=aggregator,
                           reader=reader).check(claims)
        ids, texts, vecs = zip(*con.execute("SELECT passage_id, text, embedding FROM passages").fetchall())
    check_s = time.time() - t0
    mat = np.asarray(vecs, dtype=np.float32)
    qv = embedder.encode([c.text for c in claims])
    if tune and aggregator is None:  # thresholds chosen on the dev half, everything below measured on the test half
        dev_half, test_half = climate_halves(sample)
        t = tune_thresholds([results[i].evidence for i in dev_half], [CLIMATE_MAP[sample[i]["label"]] for i in dev_half], t)
        out["climate_fever_tuned"] = {k: v for k, v in t.as_dict().items() if k in TUNED}
        out["climate_fever_tuned_on"] = f"CLIMATE-FEVER dev half ({len(dev_half)} claims); scores below on the other half"
        top1 = (mat @ qv.T).max(axis=0)  # the baseline's threshold is chosen on the same dev half
        dev_gold = [CLIMATE_MAP[sample[i]["label"]] for i in dev_half]
        base_thr = max(np.arange(0.40, 0.85, 0.01), key=lambda x: np.mean(
            [(Label.SUPPORTED if top1[i] >= x else Label.NOT_ENOUGH_EVIDENCE) is g for i, g in zip(dev_half, dev_gold)]))
        out["baseline_climate_fever_threshold"] = round(float(base_thr), 2)
        sample = [sample[i] for i in test_half]
        results = [replace(results[i], verdict=decide(results[i].claim.claim_id, results[i].evidence, t)) for i in test_half]
        qv = qv[test_half]
    gold_l, pred_l, base_l, hits, base_hits, conf, ok = [], [], [], [], [], [], []
    for r, res, q in zip(sample, results, qv, strict=True):
        gold_text = {_norm(ev["text"]) for ev in r["evidence"] if ev.get("is_gold")}
        sims = mat @ q
        top = np.argsort(-sims)[:5]
        if gold_text:
            hits.append(any(_gold_hit(e.passage.text, gold_text) for e in res.evidence))
            base_hits.append(any(_gold_hit(texts[j], gold_text) for j in top))
        gold = CLIMATE_MAP[r["label"]]
        gold_l.append(gold)
        pred_l.append(res.verdict.label)
        conf.append(res.verdict.confidence)
        ok.append(res.verdict.label is gold)
        base_l.append(Label.SUPPORTED if float(sims[top[0]]) >= out.get("baseline_climate_fever_threshold", t.support_min_similarity)
                      else Label.NOT_ENOUGH_EVIDENCE)
    classes = list(CLIMATE_MAP.values())
    count = lambda labels: {lab.value: sum(1 for p in labels if p is lab) for lab in classes}  # noqa: E731
    return out | {
        "climate_fever_acc": round(float(np.mean(ok)), 4),
        "climate_fever_macro_f1": round(macro_f1(gold_l, pred_l, classes), 4),
        "climate_fever_recall_at_5": round(float(np.mean(hits)), 4),
        "climate_fever_claims": len(sample),
        "climate_fever_recall_claims": len(hits),
        "climate_fever_corpus_passages": len(ids),
        "climate_fever_gold": count(gold_l),
        "climate_fever_predicted": count(pred_l),
        "climate_fever_verdict_ece": ece(conf, ok),
        "climate_fever_majority_acc": round(max(count(gold_l).values()) / len(gold_l), 4),
        "baseline_climate_fever_acc": round(float(np.mean([g is p for g, p in zip(gold_l, base_l)])), 4),
        "baseline_climate_fever_macro_f1": round(macro_f1(gold_l, base_l, classes), 4),
        "baseline_climate_fever_recall_at_5": round(float(np.mean(base_hits)), 4),
        "climate_fever_build_seconds": round(build_s, 1),
        "climate_fever_check_seconds": round(check_s, 1),
    }


# ---------------------------------------------------------------- WiCE (the cited page's sentences)

def bench_wice(stance, embedder, t: Thresholds, n_claims: int, seed: int, split: str = "test", aggregator=None,
               reader=None) -> dict:
    from training.wice import PageProvider, wice_claims, wice_pages
    from verifiers.pipeline import Verifier

    sample = _sample(wice_claims(DATA, split), n_claims, seed)
    pages, ev_ids = wice_pages(sample, split, lambda texts: cached_encode(embedder, texts, f"wice-{split}"))
    claims = claims_from_texts([r["claim"] for r in sample])
    results = Verifier([PageProvider(pages)], embedder, stance, t, aggregator=aggregator, reader=reader).check(claims)
    qv = embedder.encode([c.text for c in claims])
    recall, full, base_recall, gold_l, pred_l, base_l = [], [], [], [], [], []
    for r, c, res, q in zip(sample, claims, results, qv, strict=True):
        src, passages = pages[r["claim"]]
        sims = np.asarray([p.embedding for p in passages], dtype=np.float32) @ q
        base_top = {ev_ids[r["claim"]][(passages[j].text, passages[j].start)] for j in np.argsort(-sims)[:5]}
        kept = {ev_ids[r["claim"]][(e.passage.text, e.passage.start)] for e in res.evidence}
        sets = [set(s) for s in r.get("gold_evidence_sets") or [] if s]
        if sets:
            recall.append(max(len(s & kept) / len(s) for s in sets))
            full.append(any(s <= kept for s in sets))
            base_recall.append(max(len(s & base_top) / len(s) for s in sets))
        gold_l.append(r["label"] == "SUPPORTED")
        pred_l.append(res.verdict.label is Label.SUPPORTED)
        base_l.append(float(sims.max()) >= t.support_min_similarity)
    return {
        f"wice{'' if split == 'test' else '_' + split}_recall_at_5": round(float(np.mean(recall)), 4),
        f"wice{'' if split == 'test' else '_' + split}_full_set_at_5": round(float(np.mean(full)), 4),
        f"wice{'' if split == 'test' else '_' + split}_acc": round(float(np.mean([g == p for g, p in zip(gold_l, pred_l)])), 4),
        f"wice{'' if split == 'test' else '_' + split}_claims": len(gold_l),
        f"wice{'' if split == 'test' else '_' + split}_majority_acc": round(float(max(np.mean(gold_l), 1 - np.mean(gold_l))), 4),
        f"baseline_wice{'' if split == 'test' else '_' + split}_recall_at_5": round(float(np.mean(base_recall)), 4),
        f"baseline_wice{'' if split == 'test' else '_' + split}_acc": round(float(np.mean([g == p for g, p in zip(gold_l, base_l)])), 4),
    }


# ---------------------------------------------------------------- calibration

def bench_nli_heldout(stance, meta: dict, limit: int = 0) -> dict:
    """ECE on the NLI pairs training set aside, rebuilt exactly as training split them."""
    from training.stance import LABELS, load_pairs, split_pairs

    hp = meta["hyper_parameters"]
    if hp.get("recipe") == "real-claims":
        from training.stance import real_claims_pairs

        from verifiers.embed import MiniLMEmbedder

        made = real_claims_pairs(DATA, hp["seed"], fever_pairs=hp["fever_pairs"], hard_neutrals=hp["hard_neutrals"],
                                 nli_neutrals=hp.get("nli_neutrals", 2000), encode=MiniLMEmbedder().encode,
                                 dev_pairs=hp["dev_pairs"], heldout_pairs=hp["heldout_pairs"],
                                 near_distractors=hp.get("near_distractors", False))
        dev, held = made["dev"], made["heldout"]
    else:
        pairs, _ = load_pairs(DATA / "nli-train", hp["seed"])
        random.Random(hp["seed"]).shuffle(pairs)
        dev, _, held = split_pairs(pairs, hp["dev_pairs"], hp.get("heldout_pairs", 0))
    split, name = (held, "held out from training and calibration") if held else (dev, "dev (also fitted the temperature)")
    if limit:
        split = split[:limit]
    probs = stance.calibration.probabilities(stance.logits([p.premise for p in split], [p.hypothesis for p in split]))
    labels = np.asarray([stance.labels.index(LABELS[p.label]) for p in split])
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    raw = stance.calibration.__class__(temperature=1.0)
    raw_probs = raw.probabilities(np.log(np.clip(probs, 1e-12, 1)) * stance.calibration.temperature)
    return {
        "ece": ece(conf, correct),
        "ece_uncalibrated": ece(raw_probs.max(axis=1), raw_probs.argmax(axis=1) == labels),
        "ece_split": f"NLI pairs {name} ({len(split)} pairs, seed {hp['seed']})",
        "nli_heldout_acc": round(float(correct.mean()), 4),
        "nli_heldout_majority_acc": round(float(np.bincount(labels).max() / len(labels)), 4),
        "_conf": conf.tolist(), "_correct": correct.tolist(),
    }


def reliability_png(path: Path, curves: dict[str, tuple[list, list]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    for name, (conf, correct) in curves.items():
        bins = reliability_bins(conf, correct, n_bins=ECE_BINS)
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-",
                label=f"{name} (ECE {ece(conf, correct):.3f})")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title("FactLedger stance model: reliability")
    ax.legend(loc="upper left", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return str(path.relative_to(ROOT))


CARD_KEYS = ("fever_symmetric_acc", "fever_symmetric_acc_model_only", "fever_symmetric_dev_acc", "rule_weight",
             "rule_weight_dev_acc", "baseline_fever_symmetric_acc", "climate_fever_acc", "climate_fever_macro_f1",
             "climate_fever_recall_at_5", "climate_fever_claims", "baseline_climate_fever_acc", "wice_acc",
             "wice_recall_at_5", "wice_claims", "baseline_wice_acc", "ece", "ece_split", "fever_symmetric_ece")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "stance"))
    ap.add_argument("--climate-claims", type=int, default=0, help="claims checked (0 = all 1,535)")
    ap.add_argument("--wice-claims", type=int, default=0, help="WiCE test claims checked (0 = all)")
    ap.add_argument("--nli-heldout", type=int, default=0, help="cap on the held-out NLI pairs for the ECE (0 = all)")
    ap.add_argument("--seed", type=int, default=7, help="seed of the subsamples")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tune-rules", action="store_true",
                    help="choose the rule weight (year / unit-amount conflicts) on FEVER-Symmetric dev")
    ap.add_argument("--tune-thresholds", action="store_true",
                    help="choose the verdict thresholds on a seeded half of CLIMATE-FEVER and report the other half")
    ap.add_argument("--write-card", action="store_true", help="store the numbers in meta.json and MODEL_CARD.md")
    ap.add_argument("--rules-verdict", action="store_true",
                    help="decide with the rule verdict instead of the fitted aggregator (models/verdict)")
    args = ap.parse_args(argv)
    try:  # the reliability diagram is one of the outputs: refuse to start without it
        import matplotlib  # noqa: F401
    except ImportError:
        print("bench/verdicts.py: matplotlib is missing (reliability diagram): pip install -e '.[bench]'", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    from extractors.sentences import Splitter
    from verifiers.embed import MiniLMEmbedder
    from verifiers.stance_model import CrossEncoderStance

    t_start = time.time()
    t = Thresholds()
    stance = CrossEncoderStance(Path(args.model), batch_size=32)
    meta = json.loads((Path(args.model) / "meta.json").read_text())
    embedder, splitter = MiniLMEmbedder(), Splitter()
    res: dict = {"stance_model": stance.name, "stance_revision": stance.revision}
    fever = bench_fever(stance, embedder, args.tune_rules)
    if fever["rule_weight"] != stance.meta.get("rule_weight", 0.0):  # tuned: the verifier runs with the new weight
        stance = CrossEncoderStance(Path(args.model), batch_size=32, rule_weight=fever["rule_weight"])
        res["stance_revision"] = stance.revision
    aggregator = reader = None
    if not args.rules_verdict:  # the product's verdict: the fitted aggregator when it matches this stance model
        from factledger.app import load_aggregator, load_reader

        aggregator, reader = load_aggregator(stance.revision, load_reader)
        res["verdict_aggregator"] = aggregator.revision if aggregator else None
        res["evidence_reader"] = reader.revision if reader else None
    climate = bench_climate(stance, embedder, splitter, t, args.climate_claims, args.seed, args.tune_thresholds,
                            aggregator, reader)
    wice = bench_wice(stance, embedder, t, args.wice_claims, args.seed, aggregator=aggregator, reader=reader)
    nli = bench_nli_heldout(stance, meta, args.nli_heldout)
    for part in (fever, climate, wice, nli):
        res.update({k: v for k, v in part.items() if not k.startswith("_")})
    res["baseline_ece"] = res["baseline_fever_symmetric_ece"]
    res["baseline_ece_split"] = "FEVER-Symmetric test (the baseline has no probabilities: confidence = cosine or 1 - cosine)"
    res["baseline"] = ("similarity only: MiniLM cosine (FEVER-Symmetric: threshold fitted on dev; CLIMATE-FEVER / "
                       "WiCE: cosine top 5, supported when the top cosine >= support_min_similarity)")
    res["thresholds"] = t.as_dict()
    res["reliability_png"] = reliability_png(OUT / "reliability.png", {
        "NLI held out (3-way stance)": (nli["_conf"], nli["_correct"]),
        "FEVER-Symmetric test (verdict)": (fever["_fever_conf"], fever["_fever_correct"]),
    })
    res["reliability_bins_nli"] = [{k: round(v, 3) if isinstance(v, float) else v for k, v in b.items()}
                                   for b in reliability_bins(nli["_conf"], nli["_correct"], n_bins=ECE_BINS)]
    res["train_seconds"] = meta.get("train_seconds")
    res["bench_seconds"] = round(time.time() - t_start, 1)
    if args.write_card:
        from training.stance import write_model_card

        meta["rule_weight"] = res["rule_weight"]
        if not args.tune_rules:  # keep the dev numbers the weight was chosen on
            res["rule_weight_dev_acc"] = meta.get("benchmarks", {}).get("rule_weight_dev_acc", {})
        meta["benchmarks"] = {k: res[k] for k in CARD_KEYS} | {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": "python bench/verdicts.py" + (" --tune-rules" if args.tune_rules else "")
                       + (" --tune-thresholds" if args.tune_thresholds else "") + " --write-card"}
        (Path(args.model) / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        write_model_card(Path(args.model), meta)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
