"""Fit the claim-level verdict aggregator on real fact-checked claims.

`factledger train verdict [--out models/verdict] [--stance-model DIR] [--sets averitec climate-fever]`

Data, real fact-checked claims (`--sets`; the shipped aggregator: AVeriTeC only):
- the AVeriTeC *train* claims of the "fit" split (`training.stance.averitec_split`: 20% of the
  3,054, never seen by the stance trainer; 56% refuted), their evidence items pooled into one
  corpus, one passage per item ("question + answer", as `bench/real_claims.py` ingests
  averitec-dev-a);
- optionally the CLIMATE-FEVER dev half (`climate_halves`, 767 claims; 43% supported), against every
  CLIMATE-FEVER evidence sentence, one document per Wikipedia article (as `bench/verdicts.py`
  builds it; that benchmark measures the other half).
Every claim is checked by the product's own `Verifier` (retrieval, reranking, stance, joint
reading), so the features are exactly what the product computes at run time. A multinomial
logistic regression is fitted on `verifiers.verdict.features`; its L2 strength and class weighting
are chosen by 5-fold cross-validation of the verdict the product shows, and its confidence is
Platt-calibrated on the same folds. Written to `<out>/aggregator.json` with each set's sha256, the
stance revision it was fitted with, and the cross-validated metrics, overall and per set.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from factledger.records import sha256_file
from training.stance import averitec_split, shared_dir

__all__ = ["LABEL_OF", "averitec_evidence_records", "check_pooled", "climate_halves", "climate_records", "collect", "fit", "run"]

log = logging.getLogger(__name__)

VERSION = "verdict-lr-v4"
CLIMATE_HALF_SEED = 11
# AVeriTeC's labels as the product's verdicts
LABEL_OF = {"SUPPORTED": "supported", "REFUTED": "refuted", "NOT_ENOUGH_INFO": "not_enough_evidence",
            "CONFLICTING": "conflicting"}


def averitec_evidence_records(claims: list[dict]) -> list[dict]:
    """One corpus record per evidence item: the question as title, "question + answer" as text."""
    out = []
    for c in claims:
        for ev in c["evidence"]:
            answer = (ev.get("text") or "").strip()
            question = (ev.get("question") or "").strip()
            if not answer and not question:
                continue
            url = ev.get("source") or f"https://averitec.invalid/evidence/{ev['id']}"
            out.append({"id": ev["id"], "url": url, "title": question or None, "text": f"{question} {answer}".strip()})
    return out


def climate_halves(n: int) -> tuple[list[int], list[int]]:
    """CLIMATE-FEVER's claims cut in two by a fixed seed: the "dev" half the aggregator is fitted on,
    and the "test" half `bench/verdicts.py` measures on."""
    idx = list(range(n))
    random.Random(CLIMATE_HALF_SEED).shuffle(idx)
    return sorted(idx[:n // 2]), sorted(idx[n // 2:])


def climate_records(rows: list[dict]) -> list[dict]:
    """Every CLIMATE-FEVER evidence sentence of `rows`, one corpus record per Wikipedia article."""
    articles: dict[str, dict[str, None]] = {}
    for r in rows:
        for ev in r["evidence"]:
            articles.setdefault(ev.get("source") or "Wikipedia", {})[ev["text"]] = None
    out = []
    for title, sents in sorted(articles.items()):
        url = "https://en.wikipedia.org/wiki/" + title.replace(" ", "_")
        out.append({"id": url, "url": url, "title": title, "text": "\n".join(sents)})
    return out


def check_pooled(claims: list[dict], records: list[dict], work: Path, name: str, rt=None, reader=None):
    """`claims` checked by the product's Verifier against a corpus of `records` (their own evidence,
    pooled), ingested into `work`/`name`.duckdb: (claim records, kept evidence per claim, joint
    stances, reader probabilities per claim or None without a reader)."""
    from extractors.claims import claims_from_texts
    from factledger.app import Runtime, run_info
    from factledger.corpus import ingest
    from verifiers.pipeline import Verifier, joint_stances
    from verifiers.providers import CorpusProvider
    from verifiers.reader import read_claims
    from warehouse.db import connect
    from warehouse.store import finish_run, start_run

    rt = rt or Runtime()
    t = rt.thresholds
    corpus = work / f"{name}.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    db = work / f"{name}.duckdb"
    db.unlink(missing_ok=True)
    con = connect(db)
    try:
        start_run(con, run_info(f"{name}-corpus", "corpus-add", rt, ["corpus"], {}))
        ingest(con, f"{name}-corpus", [corpus], rt.splitter, rt.embedder)
        finish_run(con, f"{name}-corpus")
        verifier = Verifier([CorpusProvider(con, candidates=t.retrieve_candidates, cache=rt.cache)], rt.embedder,
                            rt.stance_model, t)
        recs = claims_from_texts([c["claim"] for c in claims])
        kept = [list(r.evidence) for r in verifier.check(recs)]
        joints = joint_stances(rt.stance_model, recs, kept, t)
        reads = read_claims(reader, recs, kept) if reader is not None else None
    finally:
        con.close()
    return recs, kept, joints, reads


def collect(claims: list[dict], records: list[dict], work: Path, name: str, rt=None, reader=None):
    """(features, gold labels, allowed verdicts) of `claims` checked against their pooled evidence
    (`check_pooled`); with a `reader`, its log-probabilities are among the features."""
    from factledger.app import Runtime
    from verifiers.verdict import allowed_labels, features

    rt = rt or Runtime()
    recs, kept, joints, reads = check_pooled(claims, records, work, name, rt, reader)
    t = rt.thresholds
    reads = reads or [None] * len(kept)
    x = [features(ev, t, j, r) for ev, j, r in zip(kept, joints, reads, strict=True)]
    allowed = [sorted(lab.value for lab, ok in allowed_labels(ev, t, j, r, claim=c.text).items() if ok)
               for c, ev, j, r in zip(recs, kept, joints, reads, strict=True)]
    y = [LABEL_OF[c["label"]] for c in claims]
    return x, y, allowed


def _ece(conf, right, bins: int = 10) -> float:
    import numpy as np

    conf, right = np.asarray(conf, dtype=float), np.asarray(right, dtype=float)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    return round(float(sum(abs(conf[idx == k].mean() - right[idx == k].mean()) * (idx == k).mean()
                           for k in range(bins) if (idx == k).any())), 4)


def _class_weights(y, scheme: str) -> dict[str, float] | None:
    """None (the data's own prior), "balanced" (every verdict weighs the same in total) or "sqrt"
    (half way, on a log scale: weight 1/sqrt(frequency))."""
    from collections import Counter

    if scheme == "none":
        return None
    counts = Counter(y)
    power = 1.0 if scheme == "balanced" else 0.5
    w = {lab: (len(y) / (len(counts) * n)) ** power for lab, n in counts.items()}
    return w


def fit(x, y, allowed=None, seed: int = 13, groups=None, names=None) -> tuple[dict, dict]:
    """Standardised multinomial logistic regression. Its L2 strength C and class weighting are
    chosen by 5-fold cross-validation on the mean of accuracy and macro-F1: accuracy alone rewards
    always answering the majority verdict, macro-F1 alone rewards answering the rare ones at random.
    Both are measured on the verdict the product shows: the most probable one the claim's evidence
    allows (`allowed`: per claim, the labels `verifiers.verdict.allowed_labels` allows; None = all),
    and the confidence is calibrated on that verdict too."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold

    from verifiers.verdict import FEATURES

    X, Y = np.asarray(x, dtype=np.float64), np.asarray(y)
    mean, scale = X.mean(0), X.std(0)
    scale[scale < 1e-9] = 1.0
    Z = (X - mean) / scale
    labels = ["supported", "refuted", "not_enough_evidence", "conflicting"]
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    ok = [set(a) for a in allowed] if allowed is not None else [set(labels)] * len(Y)

    def shown(model, rows) -> tuple[list[str], np.ndarray]:
        """The verdict the product shows for `rows` (verifiers.verdict.choose) and its probability."""
        proba = model.predict_proba(Z[rows])
        cls = list(model.classes_)
        out, top = [], []
        for p, i in zip(proba, rows, strict=True):
            k = next(k for k in np.argsort(-p) if cls[k] in ok[i])
            out.append(cls[k])
            top.append(p[k])
        return out, np.asarray(top)

    grid = {}
    for scheme in ("balanced", "sqrt", "none"):
        for c in (0.01, 0.03, 0.1, 0.3, 1.0):
            pred = np.empty(len(Y), dtype=object)
            for tr, te in cv.split(Z, Y):
                m = LogisticRegression(C=c, class_weight=_class_weights(list(Y[tr]), scheme), max_iter=2000)
                pred[te] = shown(m.fit(Z[tr], Y[tr]), te)[0]
            grid[(scheme, c)] = (round(float(f1_score(Y, list(pred), average="macro", labels=labels)), 4),
                                 round(float(accuracy_score(Y, list(pred))), 4))
    best = max(grid, key=lambda k: (grid[k][0] + grid[k][1], -k[1]))
    scheme, best_c = best
    chosen = LogisticRegression(C=best_c, class_weight=_class_weights(list(Y), scheme), max_iter=2000)
    # The class weighting moves the probabilities away from how often the verdict is right: the
    # confidence is recalibrated (Platt scaling of the winning probability's logit against whether
    # the verdict was right), fitted on the cross-validated predictions of the chosen model.
    from sklearn.base import clone

    top = np.zeros(len(Y))
    verdict = np.empty(len(Y), dtype=object)
    for tr, te in cv.split(Z, Y):
        verdict[te], top[te] = shown(clone(chosen).fit(Z[tr], Y[tr]), te)
    top = top.clip(1e-6, 1 - 1e-6)
    right = verdict == Y
    if right.all() or not right.any():  # nothing to calibrate against: the probability as it is
        a, b = 1.0, 0.0
    else:
        platt = LogisticRegression(C=1e6, max_iter=2000).fit(np.log(top / (1 - top)).reshape(-1, 1), right)
        a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    cal = 1 / (1 + np.exp(-(a * np.log(top / (1 - top)) + b)))
    lr = chosen.fit(Z, Y)
    order = [list(lr.classes_).index(lab) for lab in labels]
    model = {"version": VERSION, "features": list(names or FEATURES), "labels": labels,
             "mean": mean.round(6).tolist(), "scale": scale.round(6).tolist(),
             "coef": lr.coef_[order].round(6).tolist(), "intercept": lr.intercept_[order].round(6).tolist(),
             "confidence_calibration": {"method": "platt", "a": round(a, 6), "b": round(b, 6)}}
    per_set = {}
    if groups is not None:
        g = np.asarray(groups)
        for name in sorted(set(groups)):
            m_ = g == name
            per_set[name] = {"claims": int(m_.sum()),
                             "macro_f1": round(float(f1_score(Y[m_], list(verdict[m_]), average="macro", labels=labels)), 4),
                             "accuracy": round(float(accuracy_score(Y[m_], list(verdict[m_]))), 4),
                             "ece_calibrated": _ece(cal[m_], right[m_])}
    report = {"C": best_c, "class_weight": scheme, **({"cv_per_set": per_set} if per_set else {}),
              "cv_macro_f1_accuracy": {f"{k[0]} C={k[1]}": v for k, v in grid.items()},
              "cv_macro_f1": grid[best][0], "cv_accuracy": grid[best][1],
              "cv_ece_raw": _ece(top, right), "cv_ece_calibrated": _ece(cal, right)}
    return model, report


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="factledger train verdict", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="models/verdict", help="artefact folder (default: models/verdict)")
    p.add_argument("--stance-model", default=None, help="stance artefact to fit with (default: models/stance)")
    p.add_argument("--claims", type=int, default=0, help="use only the first N claims of each set (0: all)")
    p.add_argument("--sets", nargs="+", choices=("averitec", "climate-fever"), default=["averitec"],
                   help="fit sets: AVeriTeC train's fit split (default), CLIMATE-FEVER's dev half. Both together "
                        "were measured with stance-minilm-v3: AVeriTeC CV accuracy 0.585 (alone 0.612), "
                        "averitec-dev-a end to end 0.6305 / macro-F1 0.3421 (alone 0.6627 / 0.3514), "
                        "CLIMATE-FEVER CV accuracy 0.413 (its majority class: 0.426)")
    p.add_argument("--reader-model", default=None,
                   help="evidence reader whose probabilities join the features (default: models/reader when there)")
    p.add_argument("--no-reader", action="store_true", help="fit without the evidence reader")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work", default=None, help="folder for the pooled corpus and its DuckDB file (default: temporary)")
    p.add_argument("--reuse-features", action="store_true", help="refit on the features saved in --work by an earlier run")
    return p


def _fit_sets(names: list[str], n_claims: int) -> dict[str, tuple[Path, list[dict], list[dict]]]:
    """Per fit set: (data file, claims, corpus records)."""
    data = shared_dir() / "data"
    out = {}
    if "averitec" in names:
        path = data / "averitec-train" / "claims.jsonl"
        rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
        claims = [r for r in rows if averitec_split(r["id"]) == "fit"][:n_claims or None]
        out["averitec"] = (path, claims, averitec_evidence_records(claims))
    if "climate-fever" in names:
        path = data / "climate-fever" / "claims.jsonl"
        rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
        claims = [rows[i] for i in climate_halves(len(rows))[0]][:n_claims or None]
        # the corpus holds every claim's evidence (the dev half's claims search the whole set, as
        # bench/verdicts.py's test half does)
        out["climate-fever"] = (path, claims, climate_records(rows))
    return out


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(args.threads)
    if args.stance_model:
        os.environ["FACTLEDGER_STANCE_MODEL"] = str(Path(args.stance_model).resolve())
    from factledger.app import Runtime, load_reader
    from verifiers.reader import CrossEncoderReader
    from verifiers.verdict import FEATURES, READER_FEATURES

    reader = None if args.no_reader else CrossEncoderReader(args.reader_model) if args.reader_model else load_reader()
    reader_revision = reader.revision if reader else None
    sets = _fit_sets(args.sets, args.claims)
    t0 = time.time()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="factledger-verdict-"))
    work.mkdir(parents=True, exist_ok=True)
    cached = work / "features.json"
    saved = json.loads(cached.read_text(encoding="utf-8")) if args.reuse_features and cached.is_file() else {}
    if saved.get("reader_revision") != reader_revision:  # features of another reader: collected again
        saved = {}
    rt = None
    x, y, allowed, groups = [], [], [], []
    for name, (_, claims, records) in sets.items():
        if name not in saved.get("sets", {}):
            rt = rt or Runtime()
            fx, fy, fa = collect(claims, records, work, name, rt, reader)
            saved.setdefault("sets", {})[name] = {"x": fx, "y": fy, "allowed": fa}
            saved["stance_revision"] = rt.stance_model.revision
            saved["reader_revision"] = reader_revision
        got = saved["sets"][name]
        x += got["x"]
        y += got["y"]
        allowed += got["allowed"]
        groups += [name] * len(got["y"])
    cached.write_text(json.dumps(saved), encoding="utf-8")
    stance_revision = saved["stance_revision"]
    model, report = fit(x, y, allowed, groups=groups, names=FEATURES + (READER_FEATURES if reader_revision else ()))
    counts = {name: {lab: got["y"].count(lab) for lab in sorted(set(got["y"]))}
              for name, got in saved["sets"].items() if name in sets}
    model.update({
        "origin": "fitted on " + " and ".join(
            f"{len(c)} {'AVeriTeC train claims (split fit, never seen by the stance trainer)' if n == 'averitec' else 'CLIMATE-FEVER claims (the dev half; bench/verdicts.py measures the other)'}"
            for n, (_, c, _) in sets.items()) + ", features from the product's own retrieval over their pooled evidence",
        "stance_revision": stance_revision, "reader_revision": reader_revision, "fitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": {n: {"path": str(p.relative_to(shared_dir() / "data")), "sha256": sha256_file(p), "claims": len(c),
                     "labels": counts[n]} for n, (p, c, _) in sets.items()},
        "cv": report, "seconds": round(time.time() - t0, 1),
    })
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "aggregator.json").write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({"out": str(out / "aggregator.json"), "claims": len(y), "labels": counts, **report,
                      "stance_revision": stance_revision, "reader_revision": reader_revision,
                      "seconds": model["seconds"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(__import__("sys").argv[1:]))
