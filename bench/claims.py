"""Check-worthiness: the trained model (models/checkworthiness) next to the RuleScorer, same run.

Real, third-party sets in ../shared/data, read in place (never copied):

- ClaimBuster: F1 of the check-worthy class on the held-out 20% test split made by
  `factledger.train_checkworthiness.claimbuster_split` (fixed seed, stratified; never trained on).
  Trained model at its artefact threshold (chosen on the dev split); rules at their hand-set 0.45.
- CLEF-2019 task 1 and CLEF-2020 task 5 TEST transcripts: average precision of the ranking of each
  document's sentences, then the mean over documents (MAP, the official measure). Also P@10.

The rule scores come from `rule_features` over each sentence parsed alone with `Splitter.nlp`
(cached by text sha256, the same vectors the model reads); a sample is re-scored with
`RuleScorer.score` on `AnalyzedSentence` items in the same run to check they agree.
Prints one JSON object.

    .venv/bin/python bench/claims.py
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extractors.checkworthy import _WEIGHTS, RuleScorer  # noqa: E402
from extractors.checkworthy_model import ARTEFACT_DIR, _RULE_KEYS, mlp_forward  # noqa: E402
from extractors.sentences import AnalyzedSentence, Splitter  # noqa: E402
from factledger.records import Sentence  # noqa: E402
from factledger.train_checkworthiness import (  # noqa: E402
    average_precision, claimbuster_split, clef_documents, feature_matrix, prf,
)
from verifiers.embed import MiniLMEmbedder  # noqa: E402

RULE_THRESHOLD = 0.45  # the RuleScorer's hand-set threshold (Thresholds before the trained model)


def rule_scores(X: np.ndarray) -> np.ndarray:
    ling = X[:, 384:384 + len(_RULE_KEYS)]
    z = _WEIGHTS["bias"] + ling @ np.array([_WEIGHTS[k] for k in _RULE_KEYS])
    return 1.0 / (1.0 + np.exp(-z))


def p_at(labels, scores, k: int) -> float:
    order = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return float(np.asarray(labels)[order].sum() / k)


def main() -> int:
    import torch

    torch.set_num_threads(1)
    t0 = time.time()
    meta = json.loads((ARTEFACT_DIR / "meta.json").read_text())
    with np.load(ARTEFACT_DIR / "weights.npz") as z:
        weights = {k: z[k] for k in z.files}
    embedder, splitter = MiniLMEmbedder(), Splitter()
    out: dict[str, object] = {"model": meta["name"], "threshold": meta["threshold"], "rule_threshold": RULE_THRESHOLD}

    test = claimbuster_split(meta["seed"])["test"]
    X = feature_matrix(test, embedder, splitter.nlp)
    y = [it.label for it in test]
    model, rules = mlp_forward(weights, X), rule_scores(X)
    m, r = prf(y, model, meta["threshold"]), prf(y, rules, RULE_THRESHOLD)
    out.update(claimbuster_f1=m["f1"], claimbuster_precision=m["precision"], claimbuster_recall=m["recall"],
               rules_claimbuster_f1=r["f1"], rules_claimbuster_precision=r["precision"],
               rules_claimbuster_recall=r["recall"], claimbuster_test_size=len(test))

    # the shortcut above equals RuleScorer.score on AnalyzedSentence items: check on a sample
    sample = [it.text for it in test[:200]]
    items = [AnalyzedSentence(Sentence(t, 0, len(t)), d[:], False) for t, d in zip(sample, splitter.nlp.pipe(sample))]
    direct = RuleScorer().score(items)
    assert max(abs(a - b) for a, b in zip(direct, rules[:200])) < 1e-5, "rule shortcut disagrees with RuleScorer"

    for key, folder in (("clef2019", "clef2019-checkthat-task1"), ("clef2020", "clef2020-checkthat-task5")):
        aps, rule_aps, p10, rule_p10 = [], [], [], []
        for _doc, items in clef_documents(folder, "test"):
            Xd = feature_matrix(items, embedder, splitter.nlp)
            yd = [it.label for it in items]
            if sum(yd) == 0:
                continue
            s, rs = mlp_forward(weights, Xd), rule_scores(Xd)
            aps.append(average_precision(yd, s))
            rule_aps.append(average_precision(yd, rs))
            p10.append(p_at(yd, s, 10))
            rule_p10.append(p_at(yd, rs, 10))
        out[f"{key}_map"] = round(float(np.mean(aps)), 4)
        out[f"rules_{key}_map"] = round(float(np.mean(rule_aps)), 4)
        out[f"{key}_p10"] = round(float(np.mean(p10)), 4)
        out[f"rules_{key}_p10"] = round(float(np.mean(rule_p10)), 4)
        out[f"{key}_docs"] = len(aps)
    out["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(out))
    return 0 if not any(isinstance(v, float) and math.isnan(v) for v in out.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
