"""The stance trainer's data split: what is held out stays held out, also across `--base` runs."""

from __future__ import annotations

from training.stance import Pair, base_saw_held_out, split_pairs


def _pairs(n: int) -> list[Pair]:
    return [Pair(f"premise {i}", f"hypothesis {i}", 1, "snli") for i in range(n)]


def test_split_keeps_dev_first_and_held_out_last():
    pairs = _pairs(100)
    dev, train, held = split_pairs(pairs, 10, 20)
    assert dev == pairs[:10] and held == pairs[80:] and train == pairs[10:80]


def test_a_base_that_trained_before_the_held_out_tail_is_accepted():
    # v1 was trained on positions [600, 40600) of the same shuffle; v2 holds out [0, 600) and the last 2000.
    v1 = {"seed": 13, "dev_pairs": 600, "max_pairs": 40000}
    assert not base_saw_held_out(v1, 64390, 13, 600, 2000)


def test_a_base_that_may_have_seen_held_out_pairs_is_refused():
    every_pair = {"seed": 13, "dev_pairs": 600, "max_pairs": 0}
    assert base_saw_held_out(every_pair, 64390, 13, 600, 2000)  # trained up to the end: saw the tail
    assert base_saw_held_out({"seed": 13, "dev_pairs": 300, "max_pairs": 1000}, 64390, 13, 600, 2000)  # smaller dev
    assert base_saw_held_out({"seed": 7, "dev_pairs": 600, "max_pairs": 1000}, 64390, 13, 600, 2000)  # other shuffle
    # a base that held out the same tail itself is fine even with every other pair
    assert not base_saw_held_out({"seed": 13, "dev_pairs": 600, "max_pairs": 0, "heldout_pairs": 2000},
                                 64390, 13, 600, 2000)


# ---------------------------------------------------------------- recipe real-claims: AVeriTeC split

def _averitec_claims() -> list[dict]:
    import json

    from tests.conftest import SHARED, need_shared

    path = need_shared(SHARED / "data" / "averitec-train" / "claims.jsonl")
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def test_averitec_split_is_stable_and_seeded():
    from training.stance import averitec_split

    ids = [f"averitec-train:{i}" for i in range(2000)]
    assert [averitec_split(i) for i in ids] == [averitec_split(i) for i in ids]
    assert set(map(averitec_split, ids)) == {"train", "dev", "fit"}
    # pinned values: a change of the rule would silently move claims between trained and fitted
    assert [averitec_split(f"averitec-train:{i}") for i in range(8)] == PINNED_SPLITS


def test_averitec_split_shares_on_the_real_claims_and_fit_claims_never_train():
    from pathlib import Path

    from tests.conftest import SHARED
    from training.stance import averitec_claim_pairs, averitec_split, claim_key, real_claims_pairs

    claims = _averitec_claims()
    split = {c["id"]: averitec_split(c["id"]) for c in claims}
    share = {s: sum(v == s for v in split.values()) / len(split) for s in ("train", "dev", "fit")}
    assert abs(share["train"] - 0.75) < 0.03 and abs(share["dev"] - 0.05) < 0.015 and abs(share["fit"] - 0.20) < 0.03

    held = {claim_key(c["claim"]) for c in claims if split[c["id"]] != "train"}
    train, dev, prov, _ = averitec_claim_pairs(Path(SHARED / "data"), 13)
    assert train and dev and prov["claims_by_split"]["fit"] > 0
    assert not {claim_key(p.hypothesis) for p in train} & held
    dev_claims = {claim_key(c["claim"]) for c in claims if split[c["id"]] == "dev"}
    assert {claim_key(p.hypothesis) for p in dev} <= dev_claims

    # the whole recipe (small FEVER share, no MiniLM): no AVeriTeC dev/fit claim is a training hypothesis
    data = real_claims_pairs(Path(SHARED / "data"), 13, fever_pairs=200, hard_neutrals=100, nli_neutrals=30,
                             encode=None, dev_pairs=50, heldout_pairs=50)
    assert not {claim_key(p.hypothesis) for p in data["train"]} & held
    assert {p.dataset for p in data["averitec_dev"]} == {"averitec-train"}


PINNED_SPLITS = ["fit", "dev", "train", "train", "train", "fit", "train", "train"]


def test_real_claims_recipe_accepts_a_default_recipe_base_and_refuses_a_foreign_split(tmp_path):
    import json

    from training.stance import real_claims_base_conflict

    default_base = tmp_path / "v2"
    default_base.mkdir()
    (default_base / "meta.json").write_text(json.dumps({"data": {"snli": {}, "mnli-dev-matched": {}},
                                                        "hyper_parameters": {"seed": 13, "dev_pairs": 600}}))
    split = {"seed": 13, "dev_pairs": 400, "heldout_pairs": 400, "fever_pairs": 8000, "hard_neutrals": 3000,
             "nli_neutrals": 2000, "near_distractors": False}
    assert not real_claims_base_conflict(str(default_base), split)  # never saw AVeriTeC / FEVER train
    v3 = tmp_path / "v3"
    v3.mkdir()
    hp = {"recipe": "real-claims", "seed": 13, "dev_pairs": 400, "heldout_pairs": 400, "fever_pairs": 8000}
    (v3 / "meta.json").write_text(json.dumps({"data": {"averitec-train": {}, "fever-train": {}}, "hyper_parameters": hp}))
    assert not real_claims_base_conflict(str(v3), split)  # same split: held out there too
    assert not real_claims_base_conflict(str(v3), {**split, "debias": True})  # reweighting draws no other pairs
    assert real_claims_base_conflict(str(v3), {**split, "seed": 7})  # another shuffle
    assert real_claims_base_conflict(str(v3), {**split, "dev_pairs": 800})  # a larger dev split
    # another FEVER or neutral sample puts other pairs into the pool that dev and held-out pairs are cut from
    assert real_claims_base_conflict(str(v3), {**split, "fever_pairs": 30000})
    assert real_claims_base_conflict(str(v3), {**split, "hard_neutrals": 6000})


def test_near_distractors_come_from_the_claims_nearest_the_claim():
    from pathlib import Path

    import numpy as np

    from tests.conftest import SHARED
    from training.stance import averitec_claim_pairs

    def encode(texts):  # a bag-of-words stand-in for MiniLM: unit vectors, same interface
        vecs = np.zeros((len(texts), 512), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                vecs[i, hash(w) % 512] += 1.0
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)

    rand, _, prov_r, _ = averitec_claim_pairs(Path(SHARED / "data"), 13)
    near, _, prov_n, _ = averitec_claim_pairs(Path(SHARED / "data"), 13, near_encode=encode)
    assert prov_r["distractors"] == "random" and prov_n["distractors"].startswith("nearest")
    # each claim's pair is followed by its distractor copy: the same claim and label, more items
    assert [p.dataset for p in near[::2]] == ["averitec-train"] * len(near[::2])
    assert all(m.dataset == "averitec-train+distractors" and (m.hypothesis, m.label) == (p.hypothesis, p.label)
               and len(m.premise) > len(p.premise) for p, m in zip(near[::2], near[1::2], strict=True))
    assert [p.hypothesis for p in rand] == [p.hypothesis for p in near]

    def words(text):
        return set(text.lower().split())

    def added_overlap(pairs):
        """How many of the claim's words the inserted items carry, on average."""
        return np.mean([len(words(m.hypothesis) & (words(m.premise) - words(p.premise))) / max(1, len(words(m.hypothesis)))
                        for p, m in zip(pairs[::2], pairs[1::2], strict=True)])

    assert added_overlap(near) > added_overlap(rand)


def test_other_entity_dates_put_another_things_year_beside_the_claims_subject():
    from training.stance import LABELS, other_entity_date_pairs
    from verifiers.textfeatures import years

    ent, con = LABELS.index("entailment"), LABELS.index("contradiction")
    sources = [
        Pair("Norbert Quill (born 1950) is a poet.", "Norbert Quill was born in 1950.", ent, "fever-train"),
        Pair("He was born in 1961 in Oslo.", "Ada Brenner was born in 1957.", con, "fever-train"),
        Pair("Stone Harbor Bridge was completed in 1932.", "Stone Harbor Bridge was completed in 1932.", ent, "fever-train"),
        Pair("Velvet Orchard is a 2004 album by Tin Lanterns.", "Velvet Orchard was released in 2004.", ent, "fever-train"),
        Pair("Gray Mill Tower was completed in 1911.", "Gray Mill Tower was completed in 1911.", ent, "fever-train"),
        Pair("Lumen Park opened to visitors in 1978.", "Lumen Park opened in 1978.", ent, "fever-train"),
    ]
    made, info = other_entity_date_pairs(sources, 50, seed=3)
    assert made == other_entity_date_pairs(sources, 50, seed=3)[0]
    assert info["made"] == len(made) >= 4
    by_claim = {p.hypothesis: p for p in sources}
    neutral = [p for p in made if p.label == LABELS.index("neutral")]
    kept = [p for p in made if p.label != LABELS.index("neutral")]
    assert neutral and kept
    for p in neutral:  # "Subject: <a sentence that dates something else>"
        title, _, rest = p.premise.partition(": ")
        assert p.hypothesis.lower().startswith(title.lower()) and title.lower() not in rest.lower()
        assert years(rest) and not years(rest) & years(p.hypothesis)
    for p in kept:  # the claim's own evidence is all there, its label unchanged
        src = by_claim[p.hypothesis]
        assert src.premise in p.premise and p.premise != src.premise and p.label == src.label
        if src.premise.startswith("He "):  # never "D. He was born ..." (he would be D's subject)
            assert p.premise.startswith(src.premise)
    # the distractor shares the claim's predicate where one can: "completed" beside "completed"
    completed = [p for p in neutral if "completed" in p.hypothesis]
    assert completed and all("completed" in p.premise for p in completed)


# ---------------------------------------------------------------- --with-reviews DB: the review desk's pairs

REVIEWED = ("The bridge opened in 1932.", "The river is 80 km long.", "The mayor was re-elected in 2019.")
PASSAGES = ("The bridge was opened to traffic in 1932.", "Tickets cost two dollars.",
            "The river runs for 80 kilometres to the sea.")


def _review_warehouse(db):
    """Three reviewed claims: supported, refuted, and one whose only reviewed passage is rejected."""
    from tests.reviewdesk import Machine, check, claim_id
    from warehouse.reviews import record_review

    check(db, *(Machine(t, "supported", 0.5, passages=PASSAGES) for t in REVIEWED))
    record_review(db, claim_id(REVIEWED[0]), "supported", "the opening is dated", "ana", relied=["1"], rejected=["2"])
    record_review(db, claim_id(REVIEWED[1]), "refuted", "80 km is right", "ana", relied=["3"])
    record_review(db, claim_id(REVIEWED[2]), "not_enough_evidence", "nothing on the mayor", "bo", rejected=["1"])
    db.close()


def test_review_pairs_are_read_as_the_stance_step_reads_them(db, db_path):
    from training.stance import LABELS, REVIEWS_SET, review_pairs

    _review_warehouse(db)
    pairs, info = review_pairs(db_path)
    got = sorted((p.hypothesis, p.premise, LABELS[p.label]) for p in pairs)
    assert got == sorted([
        (REVIEWED[0], "Example: The bridge was opened to traffic in 1932.", "entailment"),
        (REVIEWED[0], "Example: Tickets cost 2 dollars.", "neutral"),  # quantities normalised, as in the product
        ("The river is 80 kilometres long.", "Example: The river runs for 80 kilometres to the sea.", "contradiction"),
        (REVIEWED[2], "Example: The bridge was opened to traffic in 1932.", "neutral"),
    ])
    assert {p.dataset for p in pairs} == {REVIEWS_SET}
    assert info["read"] == 4 and info["claims"] == 3 and info["reviews"] == 3
    assert info["by_label"] == {"entailment": 1, "neutral": 2, "contradiction": 1}
    assert info["path"] == str(db_path.resolve()) and len(info["sha256"]) == 64 and info["reviewed_up_to"]


def test_with_reviews_refuses_a_database_it_cannot_learn_from(tmp_path, db, db_path, capsys):
    import duckdb

    from factledger.cli import main
    from tests.reviewdesk import Machine, check

    out = tmp_path / "model"
    missing = tmp_path / "missing.duckdb"
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).execute("CREATE TABLE t (x INTEGER)").close()
    check(db, Machine(REVIEWED[0], "supported", 0.5, passages=PASSAGES))  # checked, never reviewed
    db.close()
    for path, what in ((missing, "no such database"), (other, "no reviews table"),
                       (db_path, "no reviewed (claim, passage) pairs")):
        assert main(["train", "stance", "--with-reviews", str(path), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"Error: --with-reviews: {what}") and err[0].endswith(str(path))
    assert not out.exists()  # refused before anything was written


def test_with_reviews_trains_a_tiny_model_whose_card_names_the_reviews(tmp_path, db, db_path, capsys):
    import hashlib
    import json

    from factledger.cli import main
    from tests.conftest import SHARED, need_shared

    need_shared(SHARED / "data" / "nli-train" / "snli" / "pairs.jsonl")
    need_shared(SHARED / "data" / "fever-symmetric" / "claims_dev.jsonl")
    _review_warehouse(db)
    out = tmp_path / "model"
    # tiny: 8 NLI pairs + the 4 reviewed pairs twice, 32 word pieces, 2 steps of 8
    assert main(["train", "stance", "--with-reviews", str(db_path), "--reviews-repeat", "2", "--max-pairs", "8",
                 "--dev-pairs", "8", "--heldout-pairs", "0", "--max-length", "32", "--batch-size", "8",
                 "--save-every", "1000", "--threads", "1", "--out", str(out)]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["version"].endswith("+reviews") and meta["steps"] == 2
    assert meta["train_pairs_by_set"]["factledger-reviews"] == 8
    rv = meta["data"]["factledger-reviews"]
    assert rv["path"] == str(db_path.resolve()) and rv["read"] == rv["kept"] == 4 and rv["repeat"] == 2
    assert meta["hyper_parameters"]["with_reviews"] == str(db_path)
    # the pairs' hash is that of the export of the same warehouse
    export = tmp_path / "reviews.jsonl"
    assert main(["export", "--format", "training", "--out", str(export), "--db", str(db_path)]) == 0
    assert rv["pairs_sha256"] == hashlib.sha256(export.read_bytes()).hexdigest()
    card = (out / "MODEL_CARD.md").read_text()
    assert str(db_path.resolve()) in card and rv["sha256"] in card and rv["pairs_sha256"] in card
    assert f"reviewed up to {rv['reviewed_up_to']}" in card and "4 (claim, passage, label) pairs of 3 claims" in card
    capsys.readouterr()


def _cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 {flags}\n", encoding="utf-8")
    return path


def test_bf16_is_used_where_the_cpu_has_it_natively(tmp_path, caplog):
    from training import bf16_on_this_cpu

    caplog.clear()
    assert bf16_on_this_cpu(True, _cpuinfo(tmp_path, "avx2 avx512f avx512_bf16"))
    assert bf16_on_this_cpu(True, _cpuinfo(tmp_path, "avx2 amx_bf16 amx_tile"))
    assert not bf16_on_this_cpu(False, _cpuinfo(tmp_path, "avx512_bf16"))  # fp32 asked for: fp32
    assert not caplog.records


def test_bf16_on_a_cpu_without_it_trains_in_fp32_and_says_so(tmp_path, caplog):
    from training import bf16_on_this_cpu

    caplog.clear()
    info = _cpuinfo(tmp_path, "avx2 fma avx512f")
    assert not bf16_on_this_cpu(True, info)
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "fp32" in caplog.records[0].getMessage() and str(info) in caplog.records[0].getMessage()
    # no flags to read (not Linux): as requested
    assert bf16_on_this_cpu(True, tmp_path / "missing")
