"""Retrieval, stance and verdicts (no Prefect here)."""

from verifiers.embed import Embedder, MiniLMEmbedder
from verifiers.pipeline import Verifier
from verifiers.providers import Candidates, CorpusProvider, Provider, WikipediaProvider
from verifiers.stance import ConflictRuleStance, StanceModel
from verifiers.verdict import decide

__all__ = [
    "Candidates",
    "ConflictRuleStance",
    "CorpusProvider",
    "Embedder",
    "MiniLMEmbedder",
    "Provider",
    "StanceModel",
    "Verifier",
    "WikipediaProvider",
    "decide",
]
