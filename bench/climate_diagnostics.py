"""Where CLIMATE-FEVER is lost: retrieval depth, reranking and claim-level aggregation, measured
on the bench's seeded halves (fit on the dev half, report the test half). Diagnostics only: nothing
here is used by the product.

    python bench/climate_diagnostics.py [--model models/stance] [--pool 20]

For every claim, the candidates of the product's `Verifier` (BM25 + embeddings, fused by
reciprocal rank), the top `--pool` fused candidates scored by the stance model. Prints one JSON
object:

- `fused_recall_at_{5,10,20}`: a gold evidence sentence among the top k fused candidates (all
  claims with gold evidence): the ceiling a reranker of that pool can reach.
- `product_recall_at_5`: the product's kept top 5 (fused + `stance_rerank_weight` x not-neutral);
  `rerank_weight_dev_recall_at_5`: the same on the dev half for each weight tried (how the
  setting is chosen).
- `linear_rerank_recall_at_5`: a logistic regression over candidate features (cosine, BM25 share,
  fused rank, stance probabilities) fitted on the dev half's candidates.
- `aggregator_acc*`: a multinomial logistic regression from pooled features (strongest and mean
  support / refute, counts, cosines) to the 4 claim labels, fitted on the dev half; with
  similarity features only and stance features only, and the majority class of the same test half
  (the product's `decide` on it: `climate_fever_acc` of bench/verdicts.py --tune-thresholds).
- `--relevance-probe` adds `relevance_probe`: a relevance cross-encoder (one logit) fine-tuned from
  the stance model on WiCE dev (each claim's gold supporting sentences against the 20 non-gold
  sentences of its page closest by MiniLM cosine and 10 drawn at random; 2 epochs, seeded; the
  bench took 1,361 s with it on 2 cores, 383 s without), then its ranking of the pool fused with
  the product's fused rank by reciprocal rank: recall@5 alone and for each (rrf k, weight) on the
  dev and test halves. It asks whether a cross-encoder trained for relevance (not stance) closes
  the gap to the pool's ceiling.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.verdicts import CLIMATE_MAP, DATA, _gold_hit, _jsonl, _norm, climate_halves, climate_warehouse  # noqa: E402


def train_relevance_probe(stance_dir: Path, embedder, *, seed: int = 7, epochs: int = 2, batch_size: int = 16):
    """Fine-tune a one-logit cross-encoder from the stance weights on WiCE dev relevance pairs;
    returns a function scoring (claim, passage) pairs (higher: more likely evidence)."""
    import random

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    rng = random.Random(seed)
    torch.manual_seed(seed)
    examples = []
    for r in _jsonl(DATA / "wice" / "claims_dev.jsonl"):
        title = next((e["text"].removeprefix("(meta data) TITLE:").strip() for e in r["evidence"]
                      if e["text"].startswith("(meta data) TITLE:")), None)
        sents = [e for e in r["evidence"] if not e["text"].startswith("(meta data)") and len(e["text"].split()) >= 5]
        pos, neg = [e for e in sents if e["is_gold"]], [e for e in sents if not e["is_gold"]]
        if not pos or not neg:
            continue
        order = np.argsort(-(embedder.encode([e["text"] for e in neg]) @ embedder.encode([r["claim"]])[0]))
        rest = [neg[i] for i in order[20:]]
        picked = [(e, 1.0) for e in pos] + [(neg[i], 0.0) for i in order[:20]] + [
            (e, 0.0) for e in rng.sample(rest, min(10, len(rest)))]
        for e, y in picked:
            text = e["text"] if not title or title.lower() in e["text"].lower() else f"{title}: {e['text']}"
            examples.append((text, r["claim"], y))
    tok = AutoTokenizer.from_pretrained(str(stance_dir), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(stance_dir), num_labels=1, ignore_mismatched_sizes=True, local_files_only=True).float()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-5, weight_decay=0.01)
    total = epochs * -(-len(examples) // batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / (0.06 * total), (total - s) / (0.94 * total)))

    def batch(items):
        return tok([a for a, _b, *_ in items], [b for _a, b, *_ in items], truncation="only_first", max_length=128,
                   padding=True, return_tensors="pt")

    model.train()
    for _ in range(epochs):
        rng.shuffle(examples)
        for k in range(0, len(examples), batch_size):
            part = examples[k:k + batch_size]
            with torch.autocast("cpu", dtype=torch.bfloat16):
                z = model(**batch(part)).logits.squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z.float(), torch.tensor([y for *_, y in part]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
    model.eval()

    def score(pairs: list[tuple[str, str]]) -> list[float]:
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        out = np.zeros(len(pairs), dtype=np.float32)
        with torch.inference_mode():
            for k in range(0, len(order), 64):
                idx = order[k:k + 64]
                out[idx] = model(**batch([(pairs[i][1], pairs[i][0]) for i in idx])).logits.squeeze(-1).numpy()
        return out.tolist()

    return score


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "stance"))
    ap.add_argument("--pool", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--relevance-probe", action="store_true", help="also train and measure a relevance reranker")
    args = ap.parse_args(argv)
    import torch
    from sklearn.linear_model import LogisticRegression

    torch.set_num_threads(args.threads)
    from extractors.claims import claims_from_texts
    from extractors.sentences import Splitter
    from factledger.settings import Thresholds
    from verifiers.embed import MiniLMEmbedder
    from verifiers.evidence import normalize_quantities
    from verifiers.pipeline import Verifier, _stance_input
    from verifiers.providers import CorpusProvider
    from verifiers.stance_model import CrossEncoderStance
    from warehouse.db import opened

    t0 = time.time()
    embedder, stance, t = MiniLMEmbedder(), CrossEncoderStance(Path(args.model)), Thresholds()
    rows = _jsonl(DATA / "climate-fever" / "claims.jsonl")
    claims = claims_from_texts([r["claim"] for r in rows])
    with opened(climate_warehouse(embedder, Splitter()), read_only=True) as con:
        verifier = Verifier([CorpusProvider(con)], embedder, stance, t)
        qvecs = embedder.encode([c.text for c in claims])
        found = verifier._retrieve(claims, qvecs, None)
        pools = []
        for claim, qvec, f in zip(claims, qvecs, found, strict=True):
            verifier.t = Thresholds(top_k=max(1, args.pool // 2))  # _pool keeps 2 x top_k
            ids, scores = verifier._pool(claim, qvec, f)
            pools.append((f, ids, scores))
        verifier.t = t
    pairs = [(normalize_quantities(c.text), _stance_input(f.passages[pid], f.sources)) for c, (f, ids, _) in zip(claims, pools) for pid in ids]
    stances = iter(stance.predict_pairs(pairs))
    cands = []  # per claim: list of dicts, fused order
    for r, (f, ids, scores) in zip(rows, pools, strict=True):
        gold = {_norm(ev["text"]) for ev in r["evidence"] if ev.get("is_gold")}
        lex = [f.lexical.get(pid, 0.0) for pid in ids]
        top_lex = max(lex, default=0.0) or 1.0
        cands.append([{"gold": bool(gold) and _gold_hit(f.passages[pid].text, gold), "sim": scores[pid][0],
                       "fused": scores[pid][1], "lex": lx / top_lex, "rank": i, "st": next(stances)}
                      for i, (pid, lx) in enumerate(zip(ids, lex))])
    has_gold = [any(_norm(ev["text"]) for ev in r["evidence"] if ev.get("is_gold")) for r in rows]
    dev, test = climate_halves(rows)

    def recall(idx, key, k=5):
        return round(float(np.mean([any(c["gold"] for c in sorted(cands[i], key=key)[:k]) for i in idx if has_gold[i]])), 4)

    every = range(len(rows))
    out: dict = {"stance_revision": stance.revision, "pool": args.pool, "claims": len(rows),
                 "claims_with_gold": int(sum(has_gold)), "test_half": len(test)}
    for k in (5, 10, 20):
        out[f"fused_recall_at_{k}"] = recall(every, lambda c: c["rank"], k)
    def kept(w):  # the product's keep rule over its pool of 2 x top_k
        return lambda c: -(c["fused"] + w * (1 - c["st"].neutral)) if c["rank"] < 2 * t.top_k else 1.0

    out["product_recall_at_5_test"] = recall(test, kept(t.stance_rerank_weight))
    # how `stance_rerank_weight` is chosen: recall@5 on the dev half for each weight tried
    out["rerank_weight_dev_recall_at_5"] = {str(w): recall(dev, kept(w)) for w in (0.0, 0.002, 0.005, 0.01, 0.02)}

    def cand_x(c):
        return [c["sim"], c["lex"], c["lex"] > 0, 1 / (c["rank"] + 1), c["st"].support, c["st"].neutral, c["st"].refute]
    X = np.array([cand_x(c) for i in dev if has_gold[i] for c in cands[i]])
    y = np.array([c["gold"] for i in dev if has_gold[i] for c in cands[i]])
    ranker = LogisticRegression(max_iter=2000).fit(X, y)
    out["linear_rerank_recall_at_5_test"] = recall(test, lambda c: -ranker.decision_function([cand_x(c)])[0])
    out["fused_recall_at_5_test"] = recall(test, lambda c: c["rank"])

    def claim_x(cs):
        s = np.array([c["st"].support for c in cs[:10]]); r = np.array([c["st"].refute for c in cs[:10]])
        sim = np.array([c["sim"] for c in cs[:10]])
        return [s.max(), r.max(), s.mean(), r.mean(), (s > .5).sum(), (r > .5).sum(), (s * sim).max(), (r * sim).max(),
                sim.max(), sim.mean()]
    XC = np.array([claim_x(cs) for cs in cands])
    yc = np.array([r["label"] for r in rows])
    for name, cols in (("", slice(None)), ("_similarity_only", slice(8, 10)), ("_stance_only", slice(0, 6))):
        agg = LogisticRegression(C=10, max_iter=5000).fit(XC[dev][:, cols], yc[dev])
        out[f"aggregator_acc{name}_test"] = round(float((agg.predict(XC[test][:, cols]) == yc[test]).mean()), 4)
    out["majority_acc_test"] = round(max(np.mean(yc[test] == lab) for lab in CLIMATE_MAP), 4)
    if args.relevance_probe:
        reranker = train_relevance_probe(Path(args.model), embedder)
        scores = iter(reranker(pairs))  # the pool's (claim, titled passage) pairs, in `cands` order
        for cs in cands:
            for c in cs:
                c["rel"] = next(scores)
            for i, c in enumerate(sorted(cs, key=lambda c: -c["rel"])):
                c["rel_rank"] = i
        probe: dict = {"recall_at_5_alone": [recall(dev, lambda c: -c["rel"]), recall(test, lambda c: -c["rel"])]}
        for k in (10, 30, 60):
            for w in (0.5, 1.0, 2.0):
                for cs in cands:
                    for c in cs:
                        c["rrf"] = 1 / (k + c["rank"]) + w / (k + c["rel_rank"])
                probe[f"rrf_k{k}_w{w}"] = [recall(dev, lambda c: -c["rrf"]), recall(test, lambda c: -c["rrf"])]
        probe["fused"] = [recall(dev, lambda c: c["rank"]), recall(test, lambda c: c["rank"])]
        out["relevance_probe"] = probe  # [dev half, test half] recall@5
    out["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
