"""The evidence reader: one claim against all its kept passages read together, four verdicts.

The stance model judges one passage at a time (entails / contradicts / neither), and a claim's
verdict is then put together from those judgements. Real fact-checks rarely rest on one passage:
AVeriTeC's evidence is a set of question-answer pairs, each a piece of the reasoning ("When was X
built?" "1990.", "Who owns it?" "The state."), and "conflicting" or "not enough evidence" are
properties of the set, not of any one passage. The reader is a cross-encoder (the stance model's
MiniLM, given a fourth output and fine-tuned by `factledger train reader` on the product's own
retrieval over real fact-checked claims) that reads the claim with every kept passage's window,
title in front, best-ranked first (`reader_input`), and gives the probabilities of the four
verdicts. Its log-probabilities join the verdict aggregator's features (`verifiers.verdict`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from factledger.records import Claim, Evidence, Label
from verifiers.evidence import joint_premise, normalize_quantities
from verifiers.stance_model import _CrossEncoder, model_available

__all__ = ["DEFAULT_READER_DIR", "LABELS", "NO_EVIDENCE", "CrossEncoderReader", "read_claims", "reader_available",
           "reader_input"]

DEFAULT_READER_DIR = Path(__file__).resolve().parents[1] / "models" / "reader"
LABELS = (Label.SUPPORTED, Label.REFUTED, Label.NOT_ENOUGH_EVIDENCE, Label.CONFLICTING)
# What the reader reads when retrieval kept no passage: the claim alone, against an explicit nothing.
NO_EVIDENCE = "No evidence was found."


def reader_available(path: Path | str = DEFAULT_READER_DIR) -> bool:
    """True when `path` holds a complete reader artefact."""
    return model_available(path)


def reader_input(evidence: Sequence[Evidence]) -> str:
    """The evidence text the reader reads: every kept passage's window with its page title in
    front, in rank order, quantities normalised (`verifiers.evidence.joint_premise`)."""
    ranked = sorted(evidence, key=lambda e: e.rank)
    if not ranked:
        return NO_EVIDENCE
    return joint_premise((e.source.title, e.passage.context or e.passage.text) for e in ranked)


class CrossEncoderReader(_CrossEncoder):
    """The trained evidence reader (models/reader): (claim, evidence text) -> four verdict probabilities."""

    name = "factledger-reader-minilm"
    kind = "evidence reader"

    def __init__(self, path: Path | str = DEFAULT_READER_DIR, **kwargs) -> None:
        super().__init__(path, **kwargs)
        if sorted(self.labels) != sorted(lab.value for lab in LABELS):
            raise ValueError(f"reader labels {self.labels} are not the four verdicts: {self.path}")

    def read(self, pairs: Sequence[tuple[str, str]]) -> list[dict[Label, float]]:
        """Calibrated verdict probabilities for (claim, evidence text) pairs, in one batched run."""
        if not pairs:
            return []
        probs = self.calibration.probabilities(self.logits([e for _, e in pairs],
                                                           [normalize_quantities(c) for c, _ in pairs]))
        return [{Label(lab): float(p) for lab, p in zip(self.labels, row, strict=True)} for row in np.asarray(probs)]


def read_claims(reader: CrossEncoderReader, claims: Sequence[Claim],
                kept: Sequence[Sequence[Evidence]]) -> list[dict[Label, float]]:
    """Each claim read with its kept evidence (`reader_input`), all claims in one call."""
    return reader.read([(c.text, reader_input(ev)) for c, ev in zip(claims, kept, strict=True)])
