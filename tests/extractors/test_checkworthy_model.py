"""The fine-tuned check-worthiness model: artefact loads offline on the verified base, ranks facts
above opinion; the trainer never reads a CLEF test transcript."""

from __future__ import annotations

import json
import shutil

import pytest

from extractors.checkworthy_model import (
    ARTEFACT_DIR, WEIGHTS, LoadedNet, TrainedScorer, artefact_exists, base_model_dir, linguistic_names, load_net,
    model_input,
)
from factledger.records import sha256_file
from factledger.settings import Thresholds
from tests.conftest import SHARED, need_shared

needs_artefact = pytest.mark.skipif(not artefact_exists(), reason="no artefact in models/checkworthiness")


@pytest.fixture(scope="module")
def scorer():
    return TrainedScorer()


@pytest.fixture(scope="module")
def meta():
    return json.loads((ARTEFACT_DIR / "meta.json").read_text())


@needs_artefact
def test_artefact_is_small_plain_and_documented(meta):
    from safetensors import safe_open

    size = sum(p.stat().st_size for p in ARTEFACT_DIR.iterdir() if p.is_file())
    assert size < 15_000_000
    assert not list(ARTEFACT_DIR.glob("*.pkl")) and not list(ARTEFACT_DIR.glob("*.pt"))
    assert (ARTEFACT_DIR / "MODEL_CARD.md").is_file()
    assert all(len(f["sha256"]) == 64 for f in meta["training_files"])
    assert meta["weights_sha256"] == sha256_file(ARTEFACT_DIR / WEIGHTS)
    assert meta["base"]["weights_sha256"] == sha256_file(base_model_dir() / "model.safetensors")
    assert meta["linguistic_features"] in ([], linguistic_names())
    with safe_open(str(ARTEFACT_DIR / WEIGHTS), "pt") as f:
        keys = list(f.keys())
        assert {str(f.get_tensor(k).dtype) for k in keys} == {"torch.float16"}
    # only the trained layers travel: nothing below frozen_layers, no embeddings
    assert not any("embeddings" in k for k in keys)
    assert not any(f"layer.{i}." in k for k in keys for i in range(meta["frozen_layers"]))
    assert "head.weight" in keys
    # the run threshold is the one chosen on the dev split and recorded with the artefact
    assert meta["threshold_name"] == "Thresholds.checkworthy_min_score"
    assert Thresholds().checkworthy_min_score == pytest.approx(meta["threshold"])


@needs_artefact
def test_scorer_is_loaded_once_and_names_its_weights(scorer, meta):
    again = TrainedScorer()
    assert again.loaded is scorer.loaded  # one network per process and device
    assert scorer.revision == f"{meta['version']}+{meta['weights_sha256'][:12]}"
    assert scorer.name == meta["name"] and scorer.threshold == meta["threshold"]


@needs_artefact
def test_a_changed_base_model_is_refused(tmp_path, meta):
    folder = tmp_path / "cw"
    shutil.copytree(ARTEFACT_DIR, folder, ignore=shutil.ignore_patterns("checkpoints"))
    meta = dict(meta, base=dict(meta["base"], weights_sha256="0" * 64))
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="sha256"):
        LoadedNet(folder, "cpu")
    assert load_net(ARTEFACT_DIR.resolve(), "cpu") is load_net(ARTEFACT_DIR.resolve(), "cpu")


@needs_artefact
def test_fact_scores_above_opinion(scorer, splitter):
    fact = "The Soviet Union invaded Afghanistan in December 1979 and withdrew its last troops in 1989."
    opinion = "I think this is a terrible idea and we should all be very worried about it."
    s_fact, s_opinion = scorer.score(splitter.analyze(fact))[0], scorer.score(splitter.analyze(opinion))[0]
    assert s_fact >= Thresholds().checkworthy_min_score > s_opinion


@needs_artefact
def test_dated_fact_ranks_above_prediction_and_question(scorer, splitter):
    items = splitter.analyze("Unemployment fell to 3.9 percent in April 2019, the lowest rate since 2000. "
                             "Prices will probably keep rising for years. Who knows what happens next?")
    fact, prediction, question = scorer.score(items)
    assert fact >= Thresholds().checkworthy_min_score > max(prediction, question)


@needs_artefact
def test_boilerplate_scores_zero_and_empty_input(scorer, splitter):
    items = splitter.analyze("Scroll to Top\nThe bridge opened to traffic on 1 May 2024 after four years of work.")
    scores = scorer.score(items)
    assert scores[0] == 0.0 and scores[1] > 0.0
    assert scorer.score([]) == []


def test_model_input_context():
    assert model_input("A.", prev="B.", speaker="TRUMP") == ("A.", None)  # articles: the sentence alone
    assert model_input("A.", prev="B.", next_="C.", speaker="TRUMP", context="prev") == ("A.", "Trump: B.")
    assert model_input("A.", prev="B.", next_="C.", speaker="TRUMP", context="both") == ("A.", "Trump: B. || C.")
    assert model_input("A.", context="prev") == ("A.", None)


def test_clef_training_transcripts_hold_no_test_transcript():
    """CLEF-2020's training part holds two CLEF-2019 test debates: the trainer leaves them out,
    and holds dev transcripts (with their counterparts in the other set) out of training."""
    for folder in ("clef2019-checkthat-task1", "clef2020-checkthat-task5"):
        need_shared(SHARED / "data" / folder / "documents.jsonl")
    from training.checkworthiness import _norm, clef_documents, clef_training_documents

    train, dev, excluded = clef_training_documents()
    assert {"ct20:20160311_GOP_miami", "ct20:20181015_60_min"} <= set(excluded)
    held_out = {_norm(it.text) for folder in ("clef2019-checkthat-task1", "clef2020-checkthat-task5")
                for _d, items in clef_documents(folder, "test") for it in items}
    held_out |= {_norm(it.text) for _d, items in dev for it in items}
    for doc, items in train:
        long = [_norm(it.text) for it in items if len(it.text.split()) >= 6]
        assert sum(s in held_out for s in long) <= 0.2 * len(long), doc
    assert not {d for d, _ in train} & {d for d, _ in dev}


def test_claimbuster_subsets_match_the_published_sizes_and_share_positives():
    """The three subsets the ClaimBuster lab published (bench/claims.py reports F1 on each part of
    the held-out test split) are read back with their documented sizes."""
    need_shared(SHARED / "data" / "claimbuster" / "sentences.jsonl")
    from training.checkworthiness import _norm, claimbuster_items, claimbuster_subsets

    subsets = claimbuster_subsets()
    labels = {_norm(it.text): it.label for it in claimbuster_items()}
    for name, negatives in (("2xNCS", 5_528), ("2.5xNCS", 6_910), ("3xNCS", 8_292)):
        members = [t for t, names in subsets.items() if name in names]
        # counted by normalised text: the few sentences said twice count once
        assert sum(labels[t] for t in members) == pytest.approx(2_764, abs=10), name
        assert sum(1 for t in members if not labels[t]) == pytest.approx(negatives, abs=30), name


@needs_artefact
def test_average_refuses_runs_of_another_recipe(tmp_path, meta):
    """`train checkworthiness --average` only averages runs with the same splits and network: a
    mismatch is one error that names the artefact."""
    for folder in ("clef2019-checkthat-task1", "clef2020-checkthat-task5"):
        need_shared(SHARED / "data" / folder / "documents.jsonl")
    need_shared(SHARED / "data" / "claimbuster" / "sentences.jsonl")
    from factledger.errors import InputError
    from training.checkworthiness import run

    other = tmp_path / "other"
    other.mkdir()
    changed = json.loads(json.dumps(meta))
    changed["hyper_parameters"]["frozen_layers"] = meta["hyper_parameters"]["frozen_layers"] + 1
    (other / "meta.json").write_text(json.dumps(changed))
    with pytest.raises(InputError, match=r"cannot average .*other: its frozen_layers is"):
        run(["--average", str(ARTEFACT_DIR), str(other), "--out", str(tmp_path / "soup")])
    missing = tmp_path / "missing"
    with pytest.raises(InputError, match=r"cannot average .*missing: no readable meta.json"):
        run(["--average", str(ARTEFACT_DIR), str(missing), "--out", str(tmp_path / "soup")])
    assert not (tmp_path / "soup").exists()
