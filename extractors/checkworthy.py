"""Check-worthiness scorers. `RuleScorer` is the first one; a trained model replaces it later.

A scorer maps analysed sentences to scores in [0, 1]; `extract_claims` keeps those at or above
the run's named threshold (`Thresholds.checkworthy_min_score`).
"""

from __future__ import annotations

import math
import re
from typing import Protocol, Sequence

from extractors.sentences import AnalyzedSentence

__all__ = ["CheckworthinessScorer", "RuleScorer", "rule_features"]


class CheckworthinessScorer(Protocol):
    name: str

    def score(self, sentences: Sequence[AnalyzedSentence]) -> list[float]: ...


_FACT_ENTS = {"DATE", "TIME", "CARDINAL", "PERCENT", "MONEY", "QUANTITY", "ORDINAL"}
_NAME_ENTS = {"GPE", "NORP", "ORG", "PERSON", "LOC", "EVENT", "FAC", "LAW", "PRODUCT", "WORK_OF_ART"}
_FACT_VERBS = {
    "recognize", "recognise", "announce", "become", "kill", "attack", "seize", "sign", "launch", "win",
    "lose", "elect", "vote", "pass", "ban", "invade", "occupy", "withdraw", "return", "found", "establish",
    "report", "increase", "decrease", "rise", "fall", "die", "arrest", "approve", "reject", "open", "build",
    "complete", "host", "target", "impose", "restrict", "bar", "erase", "exclude", "capture", "bomb",
    "acknowledge", "declare", "grant", "sanction", "deploy", "fund", "cost", "employ", "record", "measure",
    "take", "topple", "collapse", "intervene", "murder", "injure", "destroy", "close", "award", "born",
    "design", "construct", "inaugurate", "visit", "meet", "sell", "buy", "export", "import", "produce",
}
_FACT_WORDS = {"first", "last", "largest", "biggest", "smallest", "only", "since", "percent", "million",
               "billion", "thousand", "attacks", "attack", "invasion", "intervention", "war", "election",
               "law", "ban", "killed", "deadly", "official", "formally", "officially"}
_MODALS = {"should", "must", "ought", "would", "could", "might", "may", "can", "will", "shall"}
_HEDGES = {"appears", "appear", "seems", "seem", "likely", "unlikely", "perhaps", "arguably", "possibly",
           "probably", "potentially", "reportedly", "allegedly", "apparently"}
_OPINION = {
    "believe", "think", "fear", "feel", "risk", "risks", "threaten",
    "threatens", "troubling", "dangerous", "dangerously", "damaging", "disastrous", "stark", "questionable",
    "regressive", "immense", "cautious", "cautionary", "gamble", "undermine", "undermines", "embolden",
    "emboldens", "legitimacy", "legitimizes", "merely", "rather", "opportunism", "anxiety", "necessity",
    "precedent", "signal", "lesser", "evils", "short-sighted", "reliable", "deeply", "dysfunction",
    "best", "worst", "good", "bad", "great", "terrible", "wonderful", "shameful", "outrageous", "must",
    "clearly", "obviously", "surely", "indeed", "instead", "unfortunately", "sadly", "hopefully",
    "consequential", "strategic", "stability", "instability", "framed", "pragmatism", "confuse",
}
_INTENT = {"aim", "aims", "hope", "hopes", "seek", "seeks", "want", "wants", "intend", "intends", "plan",
           "plans", "wish", "wishes", "try", "tries"}
_FIRST_PERSON = {"i", "we", "our", "us", "my", "me", "ours"}
_PREDICTION = re.compile(r"\b(will|going to|is set to|could|may|might)\b", re.I)
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")

# Weights set by hand (issue 2) on the project's sample article and the seed article: facts
# (dates, numbers, named entities, past-tense factual verbs, "firsts") raise the score, markers
# of opinion, hedging, modality, prediction, questions and first person lower it.
_WEIGHTS = {
    "bias": -2.2,
    "fact_ent": 1.1,
    "year": 1.0,
    "name_ent": 0.45,
    "fact_verb": 0.7,
    "fact_word": 0.5,
    "past": 0.35,
    "modal": -0.9,
    "hedge": -0.9,
    "opinion": -0.55,
    "intent": -1.0,
    "first_person": -1.2,
    "question": -2.0,
    "prediction": -0.6,
    "short": -1.5,
}


def rule_features(item: AnalyzedSentence) -> dict[str, float]:
    """Counts the rule scorer reads from one sentence (capped so long lists do not dominate)."""
    span = item.doc
    text = item.sentence.text
    lower = [t.lower_ for t in span]
    ents = list(span.ents)
    fact_ents = sum(1 for e in ents if e.label_ in _FACT_ENTS)
    name_ents = len({e.text for e in ents if e.label_ in _NAME_ENTS})
    verbs = [t for t in span if t.pos_ in ("VERB", "AUX")]
    return {
        "fact_ent": min(fact_ents, 2),
        "year": min(len(_YEAR.findall(text)), 2),
        "name_ent": min(name_ents, 3),
        "fact_verb": min(sum(1 for t in verbs if t.lemma_.lower() in _FACT_VERBS), 2),
        "fact_word": min(sum(1 for w in lower if w in _FACT_WORDS), 2),
        "past": min(sum(1 for t in span if t.tag_ in ("VBD", "VBN")), 2),
        "modal": min(sum(1 for w in lower if w in _MODALS), 2),
        "hedge": min(sum(1 for w in lower if w in _HEDGES), 2),
        "opinion": min(sum(1 for w in lower if w in _OPINION), 4),
        "intent": min(sum(1 for w in lower if w in _INTENT), 1),
        "first_person": min(sum(1 for w in lower if w in _FIRST_PERSON), 1),
        "question": 1.0 if text.rstrip().endswith("?") else 0.0,
        "prediction": min(len(_PREDICTION.findall(text)), 1),
        "short": 1.0 if len(lower) < 6 else 0.0,
    }


class RuleScorer:
    """Hand-weighted linear score over `rule_features`, squashed to [0, 1]."""

    name = "rules-v1"

    def score(self, sentences: Sequence[AnalyzedSentence]) -> list[float]:
        scores = []
        for item in sentences:
            if item.boilerplate:
                scores.append(0.0)
                continue
            feats = rule_features(item)
            z = _WEIGHTS["bias"] + sum(_WEIGHTS[k] * v for k, v in feats.items())
            scores.append(1.0 / (1.0 + math.exp(-z)))
        return scores
