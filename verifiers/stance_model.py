"""The trained stance model: a MiniLM cross-encoder fine-tuned by `factledger train stance`.

`CrossEncoderStance` loads the artefact in ``models/stance/`` (fp16 safetensors, tokenizer,
``meta.json``) offline, in float32 on CPU (fp16 on a GPU), and scores (passage, claim) pairs in batches:
premise = evidence passage, hypothesis = claim, as in training. Probabilities are temperature-scaled
with the temperature fitted on the held-out dev split (stored in meta.json). When meta.json has a
non-zero ``rule_weight``, a year or unit-amount mismatch between claim and passage
(`number_conflict`) moves that share of the support probability to refute.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from factledger.records import StanceScores, sha256_file
from verifiers.calibration import Calibration
from verifiers.stance import _unit_conflict
from verifiers.textfeatures import years

__all__ = ["CrossEncoderStance", "DEFAULT_MODEL_DIR", "model_available", "number_conflict"]

log = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "stance"
_REQUIRED = ("model.safetensors", "config.json", "meta.json", "tokenizer.json")


def model_available(path: Path | str = DEFAULT_MODEL_DIR) -> bool:
    """True when `path` holds a complete stance artefact."""
    p = Path(path)
    return all((p / f).is_file() for f in _REQUIRED)


def number_conflict(claim: str, passage: str) -> bool:
    """A strong rule signal: the claim and passage give different years, or different amounts
    of the same unit ("330 metres" against "300 metres")."""
    c_years, p_years = years(claim), years(passage)
    if c_years and p_years and (c_years - p_years) and (p_years - c_years):
        return True
    return _unit_conflict(claim, passage)


class _CrossEncoder:
    """A fine-tuned MiniLM cross-encoder artefact (fp16 safetensors, tokenizer, ``meta.json`` with
    its labels, max_length, version and temperature), loaded offline, scoring (premise, hypothesis)
    pairs in length-sorted batches. Shared by the stance model and the evidence reader."""

    kind = "model"

    def __init__(self, path: Path | str, *, batch_size: int = 32, max_length: int | None = None,
                 threads: int | None = None, device: str | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.path = Path(path)
        if not model_available(self.path):
            raise FileNotFoundError(f"no {self.kind} artefact in {self.path}")
        meta = json.loads((self.path / "meta.json").read_text(encoding="utf-8"))
        self.meta = meta
        self.labels: list[str] = list(meta["labels"])
        self.calibration = Calibration.from_meta(self.path / "meta.json")
        self.max_length = int(max_length or meta.get("max_length", 128))
        self.batch_size = batch_size
        self.revision = f"{meta['version']}+{sha256_file(self.path / 'model.safetensors')[:12]}"
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self._tok = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(str(self.path), local_files_only=True)
        from verifiers.embed import resolve_device

        self.device = resolve_device(device)
        # fp32 on CPU (fp16 matmuls are slow there); the shipped fp16 weights as they are on a GPU.
        self._model = (model.half() if self.device.startswith("cuda") else model.float()).to(self.device).eval()

    def logits(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        """Raw logits (n, len(labels)) in `self.labels` order, for premise/hypothesis pairs."""
        torch = self._torch
        n = len(premises)
        out = np.zeros((n, len(self.labels)), dtype=np.float32)
        order = sorted(range(n), key=lambda i: len(premises[i]) + len(hypotheses[i]))
        with torch.inference_mode():
            for k in range(0, n, self.batch_size):
                idx = order[k:k + self.batch_size]
                p = [premises[i] for i in idx]
                h = [hypotheses[i] for i in idx]
                try:
                    enc = self._tok(p, h, truncation="only_first", max_length=self.max_length,
                                    padding=True, return_tensors="pt")
                except Exception:  # a claim longer than the window: truncate both sides
                    enc = self._tok(p, h, truncation=True, max_length=self.max_length,
                                    padding=True, return_tensors="pt")
                enc = {k: v.to(self.device) for k, v in enc.items()}
                out[idx] = self._model(**enc).logits.float().cpu().numpy()
        return out


class CrossEncoderStance(_CrossEncoder):
    """`StanceModel` backed by the project's own fine-tuned cross-encoder."""

    name = "factledger-stance-minilm"
    kind = "stance model"

    def __init__(self, path: Path | str = DEFAULT_MODEL_DIR, *, batch_size: int = 32,
                 max_length: int | None = None, threads: int | None = None,
                 rule_weight: float | None = None, device: str | None = None) -> None:
        super().__init__(path, batch_size=batch_size, max_length=max_length, threads=threads, device=device)
        # Share of the support probability moved to refute when `number_conflict` fires; the value
        # measured on FEVER-Symmetric dev is stored in meta.json (0 = the model alone).
        self.rule_weight = float(self.meta.get("rule_weight", 0.0) if rule_weight is None else rule_weight)
        if self.rule_weight:
            self.revision += f"+rules{self.rule_weight:g}"
        self._idx = {lab: self.labels.index(lab) for lab in ("entailment", "neutral", "contradiction")}

    def probabilities(self, claim: str, passages: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities (n, 3) in `self.labels` order."""
        if not passages:
            return np.zeros((0, len(self.labels)))
        return self.calibration.probabilities(self.logits(list(passages), [claim] * len(passages)))

    def predict(self, claim: str, passages: Sequence[str]) -> list[StanceScores]:
        return self.predict_pairs([(claim, p) for p in passages])

    def predict_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[StanceScores]:
        """Stance for (claim, passage) pairs of any number of claims, in one length-sorted batch run."""
        if not pairs:
            return []
        probs = self.calibration.probabilities(self.logits([p for _, p in pairs], [c for c, _ in pairs]))
        e, n, c = self._idx["entailment"], self._idx["neutral"], self._idx["contradiction"]
        out = []
        for (claim, passage), row in zip(pairs, probs, strict=True):
            support, refute = float(row[e]), float(row[c])
            if self.rule_weight and number_conflict(claim, passage):
                moved = support * self.rule_weight
                support, refute = support - moved, refute + moved
            out.append(StanceScores(support=round(support, 4), refute=round(refute, 4), neutral=round(float(row[n]), 4)))
        return out
