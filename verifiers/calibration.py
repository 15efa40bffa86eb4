"""Calibration of stance probabilities and verdict confidences.

Temperature scaling (Guo et al. 2017): one scalar T, fitted on a held-out dev split by minimising
the negative log-likelihood, divides the logits before the softmax. `factledger train stance`
fits it and stores it in ``models/stance/meta.json``; `CrossEncoderStance` applies it.
`expected_calibration_error` and `reliability_bins` measure the result (bench/verdicts.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = [
    "Calibration",
    "expected_calibration_error",
    "fit_temperature",
    "reliability_bins",
    "softmax",
]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    p = softmax(logits, temperature)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, 1.0))))


def fit_temperature(logits: Sequence[Sequence[float]], labels: Sequence[int],
                    grid: Sequence[float] | None = None) -> float:
    """The temperature with the lowest NLL on (logits, labels): a grid from 0.3 to 5, then a finer one."""
    lg = np.asarray(logits, dtype=np.float64)
    lb = np.asarray(labels, dtype=np.int64)
    if len(lb) == 0:
        return 1.0
    grid = list(grid) if grid is not None else [x / 100 for x in range(30, 501, 5)]
    best = min(grid, key=lambda t: _nll(lg, lb, t))
    fine = [best + d / 1000 for d in range(-25, 26) if best + d / 1000 > 0]
    return round(min(fine, key=lambda t: _nll(lg, lb, t)), 3)


def reliability_bins(confidence: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> list[dict]:
    """Equal-width confidence bins: count, mean confidence and accuracy in each (empty bins skipped)."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    out = []
    for i in range(n_bins):
        lo, hi = edges[i], edges[i + 1]
        mask = (conf >= lo) & ((conf < hi) if i < n_bins - 1 else (conf <= hi))
        if mask.any():
            out.append({"lo": float(lo), "hi": float(hi), "count": int(mask.sum()),
                        "confidence": float(conf[mask].mean()), "accuracy": float(ok[mask].mean())})
    return out


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> float:
    """ECE: the count-weighted mean |accuracy - confidence| over equal-width bins."""
    n = len(confidence)
    if n == 0:
        return 0.0
    return float(sum(b["count"] / n * abs(b["accuracy"] - b["confidence"])
                     for b in reliability_bins(confidence, correct, n_bins)))


@dataclass(frozen=True, slots=True)
class Calibration:
    """Calibration parameters as stored in a model folder's meta.json."""

    temperature: float = 1.0
    method: str = "temperature"

    @classmethod
    def from_meta(cls, meta_path: Path) -> Calibration:
        meta = json.loads(Path(meta_path).read_text(encoding="utf-8"))
        return cls(temperature=float(meta.get("temperature", 1.0)),
                   method=str(meta.get("calibration", {}).get("method", "temperature")))

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        return softmax(logits, self.temperature)
