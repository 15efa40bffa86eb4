"""The trained check-worthiness scorer (`factledger train checkworthiness` writes its artefact).

Features per sentence: the MiniLM embedding, `rule_features` plus a few more linguistic counts
(neighbour-context features were left out: embedding the training transcripts' neighbours did not fit
the CPU budget). The model is a logistic
regression or a one-hidden-layer MLP, stored as plain arrays in `models/checkworthiness/weights.npz`
(no pickle).
The embedder is injected (the Runtime's); nothing is loaded at import.
"""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from extractors.checkworthy import rule_features
from extractors.sentences import AnalyzedSentence

__all__ = ["ARTEFACT_DIR", "FEATURE_VERSION", "TrainedScorer", "artefact_exists", "assemble", "feature_names",
           "linguistic_vector", "mlp_forward"]

log = logging.getLogger(__name__)

ARTEFACT_DIR = Path(__file__).resolve().parent.parent / "models" / "checkworthiness"
FEATURE_VERSION = "ling-v1"

_RULE_KEYS = ("fact_ent", "year", "name_ent", "fact_verb", "fact_word", "past", "modal", "hedge", "opinion",
              "intent", "first_person", "question", "prediction", "short")
_EXTRA_KEYS = ("log_tokens", "quote", "digits", "person", "gpe_norp", "org", "date", "number", "second_person",
               "negation", "superlative", "comparative", "present", "exclaim")
_NUMBER_ENTS = {"CARDINAL", "PERCENT", "MONEY", "QUANTITY"}
_QUOTES = re.compile(r"[\"“”]")


def feature_names() -> list[str]:
    return [f"emb{i}" for i in range(384)] + list(_RULE_KEYS) + list(_EXTRA_KEYS)


def linguistic_vector(item: AnalyzedSentence) -> list[float]:
    """`rule_features` followed by the extra counts, in a fixed order."""
    feats = rule_features(item)
    span = item.doc
    text = item.sentence.text
    lower = [t.lower_ for t in span]
    labels = [e.label_ for e in span.ents]
    extra = {
        "log_tokens": math.log1p(len(lower)),
        "quote": 1.0 if _QUOTES.search(text) else 0.0,
        "digits": min(sum(ch.isdigit() for ch in text), 8) / 8,
        "person": min(labels.count("PERSON"), 2),
        "gpe_norp": min(labels.count("GPE") + labels.count("NORP"), 3),
        "org": min(labels.count("ORG"), 2),
        "date": min(labels.count("DATE"), 2),
        "number": min(sum(1 for lab in labels if lab in _NUMBER_ENTS), 3),
        "second_person": 1.0 if any(w in ("you", "your") for w in lower) else 0.0,
        "negation": min(sum(1 for t in span if t.dep_ == "neg"), 2),
        "superlative": min(sum(1 for t in span if t.tag_ in ("JJS", "RBS")), 2),
        "comparative": min(sum(1 for t in span if t.tag_ in ("JJR", "RBR")), 2),
        "present": min(sum(1 for t in span if t.tag_ in ("VBZ", "VBP")), 3),
        "exclaim": 1.0 if text.rstrip().endswith("!") else 0.0,
    }
    return [float(feats[k]) for k in _RULE_KEYS] + [float(extra[k]) for k in _EXTRA_KEYS]


def assemble(emb: np.ndarray, ling: np.ndarray) -> np.ndarray:
    return np.hstack([emb, ling]).astype(np.float32)


def mlp_forward(weights: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Probability of the check-worthy class for each row of raw features."""
    h = (X - weights["mu"]) / weights["sd"]
    if "W1" in weights:  # one hidden ReLU layer
        h = np.maximum(h @ weights["W1"] + weights["b1"], 0.0)
    z = h @ weights["coef"] + float(weights["bias"][0])
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def artefact_exists(folder: Path = ARTEFACT_DIR) -> bool:
    return (folder / "weights.npz").is_file() and (folder / "meta.json").is_file()


class TrainedScorer:
    """Scores analysed sentences with the trained logistic regression; boilerplate scores 0."""

    def __init__(self, embedder, folder: Path = ARTEFACT_DIR) -> None:
        self.embedder = embedder
        self.folder = Path(folder)
        self.meta = json.loads((self.folder / "meta.json").read_text())
        if self.meta.get("feature_version") != FEATURE_VERSION:
            raise ValueError(f"artefact feature version {self.meta.get('feature_version')} != {FEATURE_VERSION} "
                             f"({self.folder})")
        with np.load(self.folder / "weights.npz") as z:
            self.weights = {k: z[k] for k in z.files}
        self.name = self.meta["name"]
        self.threshold = float(self.meta["threshold"])

    def features(self, sentences: Sequence[AnalyzedSentence]) -> np.ndarray:
        texts = [s.sentence.text for s in sentences]
        emb = self.embedder.encode(texts)
        ling = np.asarray([linguistic_vector(s) for s in sentences], dtype=np.float32)
        return assemble(emb, ling)

    def score(self, sentences: Sequence[AnalyzedSentence]) -> list[float]:
        if not sentences:
            return []
        probs = mlp_forward(self.weights, self.features(sentences))
        return [0.0 if s.boilerplate else float(p) for s, p in zip(sentences, probs)]
