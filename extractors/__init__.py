"""Article loading, sentence splitting and check-worthy claim extraction (no Prefect here)."""

from extractors.articles import html_to_text, load_article, page_metadata
from extractors.checkworthy import CheckworthinessScorer, RuleScorer
from extractors.claims import claims_from_texts, extract_claims
from extractors.sentences import Splitter, is_boilerplate_line

__all__ = [
    "CheckworthinessScorer",
    "RuleScorer",
    "Splitter",
    "claims_from_texts",
    "extract_claims",
    "html_to_text",
    "is_boilerplate_line",
    "load_article",
    "page_metadata",
]
