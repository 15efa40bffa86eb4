"""Stance of a passage towards a claim: supports / refutes / neutral, as probabilities.

`ConflictRuleStance` is the first implementation: it never supports on topic alone. Support needs
every number, date and named entity of the claim in the passage and no conflict; refutation needs
the passage on the same topic with a conflicting year, number, month, a swapped entity of the
same type, or negation on one side only. A trained cross-encoder replaces it later.
"""

from __future__ import annotations

import re
from typing import Protocol, Sequence

from factledger.records import StanceScores
from verifiers.textfeatures import content_stems, months, negated, numbers, years

__all__ = ["ConflictRuleStance", "StanceModel"]

_KEY_ENTS = {"GPE", "NORP", "PERSON", "ORG", "LOC", "FAC", "EVENT"}


class StanceModel(Protocol):
    name: str
    revision: str

    def predict(self, claim: str, passages: Sequence[str]) -> list[StanceScores]: ...


class ConflictRuleStance:
    name = "conflict-rules"
    revision = "v1"

    def __init__(self, nlp=None) -> None:
        self._nlp = nlp  # a spaCy pipeline with NER; without one, entity swaps are not detected

    def _entities(self, texts: Sequence[str]) -> list[dict[str, set[str]]]:
        if self._nlp is None:
            return [{} for _ in texts]
        out = []
        for doc in self._nlp.pipe(texts):
            ents: dict[str, set[str]] = {}
            for e in doc.ents:
                if e.label_ in _KEY_ENTS:
                    ents.setdefault(e.label_, set()).add(e.text.lower().removeprefix("the ").strip())
            out.append(ents)
        return out

    def predict(self, claim: str, passages: Sequence[str]) -> list[StanceScores]:
        if not passages:
            return []
        ents = self._entities([claim, *passages])
        c_ents, p_ents_all = ents[0], ents[1:]
        c_stems, c_nums, c_years, c_months = content_stems(claim), numbers(claim), years(claim), months(claim)
        c_neg = negated(claim)
        c_ent_names = {name for names in c_ents.values() for name in names}
        out = []
        for passage, p_ents in zip(passages, p_ents_all, strict=True):
            p_lower = passage.lower()
            p_stems, p_nums, p_years, p_months = content_stems(passage), numbers(passage), years(passage), months(passage)
            coverage = len(c_stems & p_stems) / max(1, len(c_stems))
            shared_ents = sum(1 for name in c_ent_names if name in p_lower)
            conflicts = 0
            if c_years and p_years and (c_years - p_years) and (p_years - c_years):
                conflicts += 2
            if _unit_conflict(claim, passage):
                conflicts += 1
            if c_months and p_months and (c_months - p_months) and (p_months - c_months):
                conflicts += 1
            for label, names in c_ents.items():
                missing = {n for n in names if n not in p_lower}
                others = {n for n in p_ents.get(label, set()) if n not in claim.lower()}
                if missing and others:
                    conflicts += 1
            if c_neg != negated(passage):
                conflicts += 1
            topical = coverage >= 0.3 and (shared_ents > 0 or not c_ent_names)
            present_ents = sum(1 for name in c_ent_names if name in p_lower)
            keys_present = (
                c_nums <= p_nums | p_years
                and c_months <= p_months
                and present_ents >= len(c_ent_names) - (1 if len(c_ent_names) >= 3 else 0)
            )
            has_keys = bool(c_nums or c_months or c_ent_names)
            if topical and conflicts:
                refute = min(0.9, 0.55 + 0.1 * min(conflicts, 3) + 0.2 * (coverage - 0.3))
                out.append(_probs(support=0.05, refute=refute))
            elif topical and keys_present and has_keys and coverage >= 0.35:
                support = min(0.9, 0.5 + 0.5 * coverage)
                out.append(_probs(support=support, refute=0.05))
            else:
                out.append(_probs(support=min(0.45, 0.4 * coverage), refute=0.05))
        return out


_QUANTITY = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s+([a-z]+)", re.I)


def _unit_conflict(claim: str, passage: str) -> bool:
    """The same unit with different amounts: "330 metres" against "300 metres"."""
    c_q, p_q = {}, {}
    for text, out in ((claim, c_q), (passage, p_q)):
        for num, unit in _QUANTITY.findall(text):
            out.setdefault(unit.lower(), set()).add(num.replace(",", ""))
    return any(unit in p_q and not (amounts & p_q[unit]) for unit, amounts in c_q.items() if not unit.isdigit())


def _probs(*, support: float, refute: float) -> StanceScores:
    neutral = max(0.0, 1.0 - support - refute)
    return StanceScores(support=round(support, 4), refute=round(refute, 4), neutral=round(neutral, 4))
