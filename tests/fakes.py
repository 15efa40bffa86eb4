"""Small deterministic stand-ins for the real models, for fast unit tests."""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from verifiers.textfeatures import content_stems


class HashingEmbedder:
    """Bag of hashed word stems in 384 dimensions, unit length: same words, high cosine."""

    name = "test/hashing-embedder"
    revision = "1"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, text in enumerate(texts):
            for stem in content_stems(text):
                h = int.from_bytes(hashlib.blake2b(stem.encode(), digest_size=4).digest(), "little")
                out[i, h % 384] += 1.0
            norm = np.linalg.norm(out[i])
            if norm:
                out[i] /= norm
        return out
