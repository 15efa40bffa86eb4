"""Check-worthiness: the fine-tuned model (models/checkworthiness) next to the RuleScorer, same run.

Real, third-party sets in ../shared/data, read in place (never copied):

- ClaimBuster: F1 of the check-worthy class on the held-out 20% test split made by
  `training.checkworthiness.claimbuster_split` (fixed seed, stratified; never trained on).
  The model's `claimbuster` head (the sentence alone, as for article sentences) at its artefact
  threshold (chosen on the dev split); rules at their hand-set 0.45. The split is drawn from the
  union of the dataset's three subsets (13,952 sentences, 19.8% check-worthy); F1 on the part of the
  test split in each subset (`claimbuster_f1_2_5xncs`: the 2.5xNCS set, 28.6% check-worthy, the
  ClaimBuster lab's default) is printed too, for comparison with published numbers.
- CLEF-2019 task 1 and CLEF-2020 task 5 TEST transcripts: average precision of the ranking of each
  document's sentences, then the mean over documents (MAP, the official measure). Also P@10. The
  model ranks with its `clef` head (sentence + speaker and neighbours, as in training); the
  `claimbuster` head's MAP is reported beside it (`*_map_claimbuster_head`).

The model runs as `TrainedScorer` runs it: the fp16 artefact in fp32 on CPU (`--bf16`: bf16
autocast, faster, scores differ slightly). The rule scores come from `rule_features` over each
sentence parsed alone with `Splitter.nlp` (cached by text sha256, the same vectors the model
reads); a sample is re-scored with `RuleScorer.score` on `AnalyzedSentence` items in the same run
to check they agree. Prints one JSON object.

    .venv/bin/python bench/claims.py [--model DIR] [--threads N] [--bf16]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from extractors.checkworthy import _WEIGHTS, RuleScorer  # noqa: E402
from extractors.checkworthy_model import ARTEFACT_DIR, _RULE_KEYS, load_net, sigmoid  # noqa: E402
from extractors.sentences import Splitter  # noqa: E402
from training.checkworthiness import (  # noqa: E402
    CLEF_FOLDERS, _norm, average_precision, cached_linguistic, claimbuster_split, claimbuster_subsets, clef_documents,
    model_inputs, prf,
)

RULE_THRESHOLD = 0.45  # the RuleScorer's hand-set threshold (Thresholds before the trained model)


def rule_scores(ling: np.ndarray) -> np.ndarray:
    return sigmoid(_WEIGHTS["bias"] + ling[:, :len(_RULE_KEYS)] @ np.array([_WEIGHTS[k] for k in _RULE_KEYS]))


def p_at(labels, scores, k: int) -> float:
    order = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return float(np.asarray(labels)[order].sum() / k)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ARTEFACT_DIR)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--bf16", action="store_true")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.time()
    loaded = load_net(args.model.resolve(), "cpu")
    meta = loaded.meta
    heads = list(meta["heads"])
    cb_head, clef_head = heads.index(meta["article_head"]), heads.index(meta["clef_head"])
    splitter = Splitter()
    out: dict[str, object] = {"model": f"{meta['version']}+{loaded.weights_sha256[:12]}", "threshold": meta["threshold"],
                              "rule_threshold": RULE_THRESHOLD, "precision": "bf16" if args.bf16 else "fp32"}

    def model_logits(items, context: str, ling: np.ndarray) -> np.ndarray:
        feats = ling if meta["linguistic_features"] else ling[:, :0]
        return loaded.logits(model_inputs(items, context), feats, bf16=args.bf16)

    test = claimbuster_split(meta["hyper_parameters"]["seed"])["test"]
    ling = cached_linguistic(splitter, [it.text for it in test])
    y = [it.label for it in test]
    model, rules = sigmoid(model_logits(test, "none", ling)[:, cb_head]), rule_scores(ling)
    m, r = prf(y, model, meta["threshold"]), prf(y, rules, RULE_THRESHOLD)
    out.update(claimbuster_f1=m["f1"], claimbuster_precision=m["precision"], claimbuster_recall=m["recall"],
               rules_claimbuster_f1=r["f1"], rules_claimbuster_precision=r["precision"],
               rules_claimbuster_recall=r["recall"], claimbuster_test_size=len(test))

    # The ClaimBuster lab's own subsets (2,764 check-worthy sentences with 2x / 2.5x / 3x as many
    # negatives; `kfold_25ncs` is their claim-spotter's default): F1 on the part of this test split
    # that belongs to each, at the same threshold, for comparison with published numbers.
    subsets = claimbuster_subsets()
    for name in ("2xNCS", "2.5xNCS", "3xNCS"):
        keep = np.array([name in subsets.get(_norm(it.text), ()) for it in test])
        ys = [lab for lab, k in zip(y, keep) if k]
        key = name.lower().replace(".", "_")
        out[f"claimbuster_f1_{key}"] = prf(ys, model[keep], meta["threshold"])["f1"]
        out[f"rules_claimbuster_f1_{key}"] = prf(ys, rules[keep], RULE_THRESHOLD)["f1"]
        out[f"claimbuster_test_size_{key}"] = int(keep.sum())

    # the shortcut above equals RuleScorer.score on AnalyzedSentence items: check on a sample
    direct = RuleScorer().score(splitter.analyze_alone([it.text for it in test[:200]]))
    assert max(abs(a - b) for a, b in zip(direct, rules[:200])) < 1e-5, "rule shortcut disagrees with RuleScorer"

    for key, folder in zip(("clef2019", "clef2020"), CLEF_FOLDERS):
        aps, cb_aps, rule_aps, p10, rule_p10 = [], [], [], [], []
        for _doc, items in clef_documents(folder, "test"):
            yd = [it.label for it in items]
            if sum(yd) == 0:
                continue
            ld = cached_linguistic(splitter, [it.text for it in items])
            z, rs = model_logits(items, meta["context"], ld), rule_scores(ld)
            aps.append(average_precision(yd, z[:, clef_head]))
            cb_aps.append(average_precision(yd, z[:, cb_head]))
            rule_aps.append(average_precision(yd, rs))
            p10.append(p_at(yd, z[:, clef_head], 10))
            rule_p10.append(p_at(yd, rs, 10))
        out[f"{key}_map"] = round(float(np.mean(aps)), 4)
        out[f"rules_{key}_map"] = round(float(np.mean(rule_aps)), 4)
        out[f"{key}_map_claimbuster_head"] = round(float(np.mean(cb_aps)), 4)
        out[f"{key}_p10"] = round(float(np.mean(p10)), 4)
        out[f"rules_{key}_p10"] = round(float(np.mean(rule_p10)), 4)
        out[f"{key}_docs"] = len(aps)
    out["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(out))
    return 0 if not any(isinstance(v, float) and math.isnan(v) for v in out.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
