"""Stance model on ORACLE evidence: how well a stance artefact reads real fact-check evidence.

    python bench/stance_oracle.py [--model models/stance] [--model /work/runs/stance-v3/artefact] ...

Prints ONE JSON object, one entry per `--model` (default models/stance; repeat the option to
measure the shipped model and a candidate in the same run). The model is
`verifiers.stance_model.CrossEncoderStance` (its own max length; probabilities through its
calibration; the year/unit rule is NOT applied: the model alone).

- FEVER-Symmetric test (712 claims, the gold evidence sentence given; FEVER tokenisation undone by
  `training.stance.fever_text`, both sides through `verifiers.evidence.normalize_quantities`):
  supported vs refuted accuracy, "supported" when P(entailment) > P(contradiction).
- averitec-dev-a ORACLE (249 claims): premise = `verifiers.evidence.joint_premise` of the claim's gold
  question-answer items (empty answers skipped), hypothesis = normalize_quantities(claim); one 3-way
  probability per claim.
  * `argmax`: entailment -> SUPPORTED, contradiction -> REFUTED, neutral -> NOT_ENOUGH_INFO
    (never CONFLICTING), accuracy and macro-F1 over the 4 gold labels.
  * `logreg`: a 4-class multinomial logistic regression (class_weight balanced, standardised
    features [p_entail, p_neutral, p_contra, log of each]) FITTED on the averitec-train claims of the
    "fit" split (`training.stance.averitec_split`; never trained on, never used for checkpoint choice),
    built the same way, and evaluated on dev-a: accuracy, macro-F1, per-class F1.
  * `majority`: the fit split's most frequent label predicted for every dev-a claim (accuracy 0.610).

Data is read in place from ../shared/data (or $FACTLEDGER_SHARED/data); exits 2 with a one-line error
when it is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

SHARED = Path(os.environ.get("FACTLEDGER_SHARED") or ROOT.parent / "shared")
DATA = SHARED / "data"
VERDICTS = ("SUPPORTED", "REFUTED", "NOT_ENOUGH_INFO", "CONFLICTING")
ARGMAX_VERDICT = {"entailment": "SUPPORTED", "contradiction": "REFUTED", "neutral": "NOT_ENOUGH_INFO"}


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def oracle_inputs(claims: list[dict]) -> tuple[list[str], list[str], list[str]]:
    """(premises, hypotheses, gold labels): joint premise of each claim's (question, answer) items."""
    from training.stance import averitec_items
    from verifiers.evidence import joint_premise, normalize_quantities

    prem = [joint_premise(averitec_items(c)) for c in claims]
    hyp = [normalize_quantities(c["claim"].strip()) for c in claims]
    return prem, hyp, [c["label"] for c in claims]


def scores(gold: list[str], pred: list[str]) -> dict:
    """Accuracy, macro-F1 over the 4 verdicts, per-class F1."""
    per = {}
    for c in VERDICTS:
        tp = sum(g == c and p == c for g, p in zip(gold, pred))
        fp = sum(g != c and p == c for g, p in zip(gold, pred))
        fn = sum(g == c and p != c for g, p in zip(gold, pred))
        per[c] = round(2 * tp / max(1, 2 * tp + fp + fn), 4)
    acc = sum(g == p for g, p in zip(gold, pred)) / max(1, len(gold))
    return {"accuracy": round(acc, 4), "macro_f1": round(sum(per.values()) / len(per), 4), "per_class_f1": per}


def features(probs: np.ndarray) -> np.ndarray:
    p = np.clip(probs, 1e-6, 1.0)
    return np.hstack([p, np.log(p)])


def fit_logreg(x: np.ndarray, y: list[str]):
    """Standardise + multinomial logistic regression, class_weight balanced (scikit-learn)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=5000, C=1.0))
    return model.fit(x, y)


def measure(model_dir: Path, fever: list[dict], fit: list[dict], dev_a: list[dict], threads: int) -> dict:
    from training.stance import fever_text
    from verifiers.evidence import normalize_quantities
    from verifiers.stance_model import CrossEncoderStance

    t0 = time.time()
    st = CrossEncoderStance(model_dir, threads=threads, batch_size=32)
    idx = {lab: st.labels.index(lab) for lab in ("entailment", "neutral", "contradiction")}
    order = [idx["entailment"], idx["neutral"], idx["contradiction"]]

    def probs(prem: list[str], hyp: list[str]) -> np.ndarray:
        return st.calibration.probabilities(st.logits(prem, hyp))[:, order]  # columns: e, n, c

    fp = probs([normalize_quantities(fever_text(r["evidence"][0]["text"])) for r in fever],
               [normalize_quantities(fever_text(r["claim"])) for r in fever])
    fever_gold = np.array([r["label"] == "SUPPORTED" for r in fever])
    fever_acc = float(((fp[:, 0] > fp[:, 2]) == fever_gold).mean())

    fit_p, fit_h, fit_y = oracle_inputs(fit)
    dev_p, dev_h, dev_y = oracle_inputs(dev_a)
    both = probs(fit_p + dev_p, fit_h + dev_h)
    fit_probs, dev_probs = both[:len(fit_p)], both[len(fit_p):]
    names = ("entailment", "neutral", "contradiction")
    argmax = [ARGMAX_VERDICT[names[k]] for k in dev_probs.argmax(axis=1)]
    lr = fit_logreg(features(fit_probs), fit_y)
    lr_pred = list(lr.predict(features(dev_probs)))
    majority = max(VERDICTS, key=fit_y.count)
    return {
        "version": st.meta.get("version"),
        "revision": st.revision,
        "max_length": st.max_length,
        "fever_symmetric_test_acc": round(fever_acc, 4),
        "fever_symmetric_test_claims": len(fever),
        "averitec_dev_a_oracle": {
            "claims": len(dev_a),
            "argmax": scores(dev_y, argmax),
            "logreg": {**scores(dev_y, lr_pred), "fitted_on": f"averitec-train fit split ({len(fit)} claims)",
                       "predicted": {c: lr_pred.count(c) for c in VERDICTS}},
            "majority": {"label": majority, **scores(dev_y, [majority] * len(dev_y))},
            "mean_probs": dict(zip(names, [round(float(v), 4) for v in dev_probs.mean(axis=0)])),
        },
        "seconds": round(time.time() - t0, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", default=None, help="stance artefact folder (repeatable; "
                    "default models/stance)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    needed = [DATA / "fever-symmetric" / "claims_test.jsonl", DATA / "averitec-dev-a" / "claims.jsonl",
              DATA / "averitec-train" / "claims.jsonl"]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        print(f"error: shared data missing: {', '.join(missing)}", file=sys.stderr)
        return 2
    import torch

    from training.stance import averitec_split

    torch.set_num_threads(args.threads)
    fever = _read(needed[0])
    dev_a = _read(needed[1])
    fit = [r for r in _read(needed[2]) if averitec_split(r["id"]) == "fit"]
    models = args.model or [str(ROOT / "models" / "stance")]
    out = {"benchmark": "stance_oracle", "fit_claims": len(fit), "dev_a_claims": len(dev_a), "models": {}}
    for m in models:
        out["models"][m] = measure(Path(m), fever, fit, dev_a, args.threads)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
