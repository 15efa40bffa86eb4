"""Small text helpers shared by the lexical scorer and the rule-based stance model."""

from __future__ import annotations

import re

__all__ = ["MONTHS", "content_stems", "months", "negated", "numbers", "years"]

STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being has have had
    do does did this that these those it its their there they them he she his her we our you your i me my
    not no than then so such into over under about after before between during within without which who
    whom whose what when where why how all any each both more most other some only own same very can will
    just also while since until upon per via""".split()
)
MONTHS = {
    m: i + 1
    for i, m in enumerate(
        "january february march april may june july august september october november december".split()
    )
}
_WORD = re.compile(r"[A-Za-z][A-Za-z\-']+|\d[\d,.]*\d|\d")
_NUM = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])")
_YEAR = re.compile(r"\b(1[0-9]\d\d|20\d\d)s?\b")
_NEG = re.compile(r"\b(not|no|never|none|nobody|nothing|neither|nor|cannot)\b|n't\b", re.I)


def _stem(word: str) -> str:
    w = word.lower().strip("'-")
    if w.endswith("'s"):
        w = w[:-2]
    return w[:6] if len(w) > 6 else w


def content_stems(text: str) -> set[str]:
    """Lower-cased, crudely stemmed content words and numbers."""
    return {_stem(w) for w in _WORD.findall(text) if w.lower() not in STOPWORDS and len(w) > 1 or w.isdigit()}


def numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUM.findall(text)}


def years(text: str) -> set[str]:
    return {m.group(1) for m in _YEAR.finditer(text)}


def months(text: str) -> set[int]:
    return {MONTHS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in MONTHS and w != "may"} | (
        {5} if re.search(r"\bMay\s+\d", text) else set()
    )


def negated(text: str) -> bool:
    return bool(_NEG.search(text))
