"""The evidence reader: what it reads, how its trainer builds and resumes it, and how the verdict
aggregator uses it (only with the very reader it was fitted with)."""

from __future__ import annotations

import json

import pytest

from factledger.records import Label
from tests.conftest import SHARED, need_shared
from tests.verifiers.test_verdict import T, ev

LABELS = ("supported", "refuted", "not_enough_evidence", "conflicting")


def _titled(e, title: str, text: str):
    from dataclasses import replace

    return replace(e, source=replace(e.source, title=title), passage=replace(e.passage, text=text, context=text))


def test_the_reader_reads_every_kept_passage_in_rank_order_with_its_title():
    from verifiers.reader import NO_EVIDENCE, reader_input

    first = _titled(ev("a", "u1", 0.8, 0.1, 0.1, rank=1), "Eiffel Tower", "About six million people visit it each year.")
    second = _titled(ev("b", "u2", 0.3, 0.1, 0.1, rank=2), "Big Ben", "The clock was completed in 1859.")
    text = reader_input([second, first])
    assert text.index("Eiffel Tower") < text.index("Big Ben")  # rank order, not list order
    assert "6 million people" in text  # quantities in one form, as the stance model reads them
    assert "Big Ben: The clock was completed in 1859." in text  # the off-topic passage is read too
    assert reader_input([]) == NO_EVIDENCE


@pytest.fixture(scope="module")
def tiny_reader(tmp_path_factory):
    """A reader trained for a few steps on 40 AVeriTeC train claims (the real trainer, tiny run)."""
    need_shared(SHARED / "data" / "averitec-train" / "claims.jsonl")
    from training.reader import run

    root = tmp_path_factory.mktemp("reader")
    argv = ["--claims", "40", "--epochs", "0.2", "--eval-every", "1", "--batch-size", "4", "--max-length", "128",
            "--work", str(root / "work"), "--out", str(root / "model")]
    assert run(argv) == 0
    return root, argv


def test_the_trainer_writes_a_reader_artefact_with_provenance(tiny_reader):
    root, _ = tiny_reader
    meta = json.loads((root / "model" / "meta.json").read_text())
    assert meta["labels"] == list(LABELS) and meta["dtype"] == "float16"
    assert len(meta["data"]["sha256"]) == 64 and meta["base"]["version"].startswith("stance-")
    assert meta["temperature"] > 0 and meta["steps"] >= 1 and meta["dev_history"]
    assert "macro-F1" in (root / "model" / "MODEL_CARD.md").read_text()
    # two examples per claim (retrieved and own evidence), the dev claims held out of training
    assert 0 < meta["train_examples"] <= 80 and sum(meta["train_examples_by_label"].values()) == meta["train_examples"]


def test_the_trainer_resumes_from_its_last_checkpoint(tiny_reader, caplog):
    import logging

    from training.reader import run

    root, argv = tiny_reader
    steps = json.loads((root / "model" / "meta.json").read_text())["steps"]
    with caplog.at_level(logging.INFO, logger="training.reader"):
        assert run(argv) == 0
    assert f"resumed at step {steps}" in caplog.text  # nothing retrained, nothing retrieved again
    assert "retrieving evidence" not in caplog.text


def test_wice_examples_read_the_cited_page_and_call_a_partly_supported_claim_not_enough_evidence(tmp_path, caplog):
    import logging

    from training.reader import wice_examples
    from training.wice import title_of, wice_claims
    from verifiers.evidence import joint_premise

    need_shared(SHARED / "data" / "wice" / "claims_dev.jsonl")
    rows = {r["id"]: r for r in wice_claims(SHARED / "data", "dev")[:12]}
    got, info = wice_examples(tmp_path, 2, limit=12)
    assert {e["id"] for e in got} == set(rows) and info["examples"] == len(got) and len(info["sha256"]) == 64
    for e in got:
        r = rows[e["id"]]
        assert e["label"] == ("supported" if r["label"] == "SUPPORTED" else "not_enough_evidence")
        if e["kind"] == "wice-own":  # the first annotated set of supporting sentences, read together
            gold = next(s for s in r["gold_evidence_sets"] if s)
            texts = {x["id"]: x["text"] for x in r["evidence"]}
            assert e["evidence"] == joint_premise((title_of(r), texts[i]) for i in gold)
    retrieved = [e for e in got if e["kind"] == "wice"]
    assert len(retrieved) == 12 and {e["label"] for e in retrieved} == {"supported", "not_enough_evidence"}
    assert any(e["evidence"] != retrieved[0]["evidence"] for e in retrieved)  # each claim's own page
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="training.reader"):
        assert wice_examples(tmp_path, 2, limit=12)[0] == got  # from the cache: nothing retrieved again
    assert "retrieving evidence" not in caplog.text


def test_counterfactual_examples_alter_a_detail_of_a_supported_claim_its_evidence_states():
    import re

    from training.reader import counterfactual_examples
    from training.verdict import averitec_evidence_records
    from verifiers.evidence import joint_premise, normalize_quantities

    need_shared(SHARED / "data" / "averitec-train" / "claims.jsonl")
    rows = [json.loads(line) for line in (SHARED / "data" / "averitec-train" / "claims.jsonl").open()][:300]
    retrieved = [joint_premise((r["title"], r["text"]) for r in averitec_evidence_records([c]))
                 if i % 2 else "Nothing here." for i, c in enumerate(rows)]
    got, info = counterfactual_examples(rows, retrieved, seed=1)
    by_id = {c["id"]: (i, c) for i, c in enumerate(rows)}
    assert info["examples"] == len(got) >= 20 and set(info["swapped"]) <= {"year", "number", "gpe", "norp", "loc", "category"}
    kinds = set()
    for e in got:
        i, c = by_id[e["id"]]
        kinds.add(e["kind"])
        assert c["label"] == "SUPPORTED" and e["label"] == "refuted"
        before = normalize_quantities(c["claim"])
        assert e["claim"] != before
        gone = set(re.findall(r"\w+", before)) - set(re.findall(r"\w+", e["claim"]))
        assert gone and gone <= set(re.findall(r"\w+", e["evidence"]))  # the evidence states the original detail
        if e["kind"] == "counterfactual-retrieved":
            assert e["evidence"] == retrieved[i] != "Nothing here."
    assert kinds == {"counterfactual", "counterfactual-retrieved"}
    assert counterfactual_examples(rows, retrieved, seed=1) == (got, info)  # deterministic for a seed


def test_a_reader_trains_further_with_fever_and_wice_examples_and_the_last_checkpoint(tiny_reader):
    from training.reader import reader_dev, run, wice_examples

    root, argv = tiny_reader
    first = json.loads((root / "model" / "meta.json").read_text())
    out = root / "further"
    assert run(["--base", str(root / "model"), "--fever", "20", "--wice", "--counterfactual", "--select", "last", "--claims", "40",
                "--epochs", "0.1", "--batch-size", "8", "--max-length", "128", "--work", str(root / "work2"),
                "--out", str(out)]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["base"]["reader"] == first["version"] and meta["base"]["version"] == first["base"]["version"]
    wice = [e for e in wice_examples(root / "work2", 2, limit=40)[0] if not reader_dev(e["id"])]
    cf = meta["data"]["counterfactual"]["examples"]
    assert cf > 0 and meta["train_examples_by_label"]["refuted"] >= first["train_examples_by_label"]["refuted"]
    assert first["train_examples"] + 20 + len(wice) < meta["train_examples"] <= first["train_examples"] + 20 + len(wice) + cf
    assert meta["data"]["fever"]["examples"] == 20 and meta["hyper_parameters"]["counterfactual"] is True
    assert meta["data"]["wice"]["path"] == "wice/claims_dev.jsonl" and "WiCE dev" in meta["calibration"]["fitted_on"]
    assert meta["best_step"] == meta["steps"]  # the last checkpoint, as asked
    card = (out / "MODEL_CARD.md").read_text()
    assert "from FEVER" in card and "from WiCE dev" in card


def test_the_trained_reader_gives_four_verdict_probabilities(tiny_reader):
    from verifiers.reader import CrossEncoderReader

    root, _ = tiny_reader
    reader = CrossEncoderReader(root / "model")
    got = reader.read([("The Eiffel Tower was completed in 1889.", "Eiffel Tower: It was completed in 1889."),
                       ("Big Ben was completed in 1920.", "No evidence was found.")])
    assert len(got) == 2 and all(set(p) == set(Label) for p in got)
    assert all(abs(sum(p.values()) - 1.0) < 1e-5 for p in got)
    assert got[0] != got[1]  # it reads the evidence


def _reader_aggregator(tmp_path, reader_revision="reader-x+abc"):
    """An aggregator that follows the reader: each verdict scores its own reader log-probability."""
    from verifiers.verdict import FEATURES, READER_FEATURES, Aggregator

    names = FEATURES + READER_FEATURES
    coef = [[4.0 if f == f"reader_{lab}" else 0.0 for f in names] for lab in LABELS]
    path = tmp_path / "aggregator.json"
    path.write_text(json.dumps({"version": "test", "features": list(names), "labels": list(LABELS),
                                "mean": [0.0] * len(names), "scale": [1.0] * len(names), "coef": coef,
                                "intercept": [0.0] * 4, "stance_revision": "stance-x+abc",
                                "reader_revision": reader_revision}), encoding="utf-8")
    return Aggregator.load(path)


def _read(best: Label) -> dict[Label, float]:
    return {lab: 0.7 if lab is best else 0.1 for lab in Label}


def test_an_aggregator_fitted_with_the_reader_follows_it_within_what_the_evidence_allows(tmp_path):
    from dataclasses import replace

    from verifiers.verdict import decide_fitted

    agg = _reader_aggregator(tmp_path)
    neutral = ev("a", "u1", 0.8, 0.2, 0.1)  # close, neither supports nor refutes on its own
    v = decide_fitted("c1", [neutral], T, agg, None, _read(Label.SUPPORTED))
    assert v.label is Label.SUPPORTED and v.rationale.startswith("the evidence reader reads passages #1 together")
    assert decide_fitted("c1", [neutral], T, agg, None, _read(Label.REFUTED)).label is Label.REFUTED
    # no kept passage is close to the claim: the reader alone never makes it "supported"
    off = ev("a", "u1", T.topical_min_similarity - 0.2, 0.2, 0.1)
    assert decide_fitted("c1", [off], T, agg, None, _read(Label.SUPPORTED)).label is not Label.SUPPORTED
    assert decide_fitted("c1", [], T, agg, None, _read(Label.SUPPORTED)).label is not Label.SUPPORTED
    # the passages read together must state every number the claim states (2025 where the claim says 2021)
    said = replace(neutral, passage=replace(neutral.passage, text="Russia recognised the Taliban on 3 July 2025."))
    for claim, ok in (("Russia recognised the Taliban in 2021.", False), ("Russia recognised the Taliban in 2025.", True),
                      ("Russia recognised the Taliban.", True), ("It took twenty-five days.", False)):
        v = decide_fitted("c1", [said], T, agg, None, _read(Label.SUPPORTED), claim=claim)
        assert (v.label is Label.SUPPORTED) is ok, claim
    # a relevant passage refuting it does not bar the reader's "supported": the aggregator weighs both
    refuting = ev("b", "u2", 0.8, 0.1, T.conflict_min_prob + 0.1, rank=2)
    assert decide_fitted("c1", [neutral, refuting], T, agg, None, _read(Label.SUPPORTED)).label is Label.SUPPORTED
    # nor "conflicting" without a strong passage on each side
    assert decide_fitted("c1", [neutral], T, agg, None, _read(Label.CONFLICTING)).label is not Label.CONFLICTING
    with pytest.raises(ValueError, match="needs the evidence reader"):
        decide_fitted("c1", [neutral], T, agg, None, None)


def test_the_product_uses_a_reader_aggregator_only_with_its_own_reader(tmp_path, monkeypatch, caplog):
    from factledger.app import load_aggregator

    class Reader:
        def __init__(self, revision):
            self.revision = revision

    _reader_aggregator(tmp_path)
    monkeypatch.setenv("FACTLEDGER_VERDICT_MODEL", str(tmp_path / "aggregator.json"))
    agg, reader = load_aggregator("stance-x+abc", lambda: Reader("reader-x+abc"))
    assert agg.reader_revision == "reader-x+abc" and reader.revision == "reader-x+abc"
    assert load_aggregator("stance-x+abc", lambda: Reader("reader-y+def")) == (None, None)
    assert "fitted with evidence reader reader-x+abc, found reader-y+def" in caplog.text
    assert load_aggregator("stance-x+abc", lambda: None) == (None, None)  # no reader installed: the rule verdict


def test_a_verifier_refuses_an_aggregator_without_its_reader(tmp_path):
    from verifiers.pipeline import Verifier

    with pytest.raises(ValueError, match="fitted with evidence reader reader-x"):
        Verifier([], None, None, T, aggregator=_reader_aggregator(tmp_path), reader=None)
