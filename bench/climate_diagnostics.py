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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "stance"))
    ap.add_argument("--pool", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    import torch
    from sklearn.linear_model import LogisticRegression

    torch.set_num_threads(args.threads)
    from extractors.claims import claims_from_texts
    from extractors.sentences import Splitter
    from factledger.settings import Thresholds
    from verifiers.embed import MiniLMEmbedder
    from verifiers.pipeline import Verifier, _with_title
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
    pairs = [(c.text, _with_title(f.passages[pid], f.sources)) for c, (f, ids, _) in zip(claims, pools) for pid in ids]
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
    out["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
