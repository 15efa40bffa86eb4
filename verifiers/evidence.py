"""What the stance model reads: quantities in one form, the page title in front, a window of text.

The same functions build the model's inputs in training (`training.stance`) and in the product, so
the model never sees a form at run time that it did not see in training.

- `normalize_quantities`: "six million" / "6,000,000" / "6 million" -> "6 million"; "10,100" ->
  "10100"; "330 m" / "330 meters" -> "330 metres"; "45 per cent" -> "45%". Applied to claim and
  premise alike, so equal amounts read as equal strings.
- `premise`: "<title>: <text>" unless the text already names its title.
- `joint_premise`: several passages read together (an evidence set), each with its title.
"""

from __future__ import annotations

import re
from typing import Iterable

__all__ = ["joint_premise", "names", "normalize_quantities", "numbers_stated", "premise", "shares_subject"]

_SMALL = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_BIG = (("trillion", 10**12), ("billion", 10**9), ("million", 10**6))

_TENS_RE = "|".join(_TENS)
_SMALL_RE = "|".join(sorted(_SMALL, key=len, reverse=True))
# "twenty-five", "twenty five", "sixty", "six"; "one"/"a" only before a scale word ("one million")
_WORDNUM = re.compile(
    rf"\b(?:(?P<tens>{_TENS_RE})(?:[-\s](?P<unit>one|{_SMALL_RE}))?|(?P<small>{_SMALL_RE})|(?P<one>one|a)(?=\s+(?:hundred|thousand|million|billion|trillion)\b))\b",
    re.I,
)
_THOUSANDS_SEP = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_SCALED = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s+(thousand|million|billion|trillion)\b", re.I)
_PLAIN_BIG = re.compile(r"(?<![\w.,])(\d{7,15})(?![\w,]|\.\d)")
_UNITS = (
    (re.compile(r"(?<=\d)\s*(?:metres|meters|metre|meter|m)\b(?!\s*(?:illion|²))", re.I), " metres"),
    (re.compile(r"(?<=\d)\s*(?:kilometres|kilometers|kilometre|kilometer|km)\b", re.I), " kilometres"),
    (re.compile(r"(?<=\d)\s*(?:centimetres|centimeters|cm)\b", re.I), " centimetres"),
    (re.compile(r"(?<=\d)\s*(?:feet|foot|ft)\b", re.I), " feet"),
    (re.compile(r"(?<=\d)\s*(?:kilograms|kilogram|kg)\b", re.I), " kilograms"),
    (re.compile(r"(?<=\d)\s*(?:miles|mile|mi)\b", re.I), " miles"),
    (re.compile(r"(?<=\d)\s*(?:per\s*cent|percent|pct)\b", re.I), "%"),
)


def _word_number(m: re.Match) -> str:
    if m.group("one"):
        return "1"
    if m.group("small"):
        return str(_SMALL[m.group("small").lower()])
    value = _TENS[m.group("tens").lower()]
    unit = m.group("unit")
    if unit:
        value += 1 if unit.lower() == "one" else _SMALL[unit.lower()]
    return str(value)


def _fmt(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def _big(value: float) -> str:
    """7+ digit amounts as '<n> million|billion|trillion'; smaller ones as plain digits."""
    for name, scale in _BIG:
        if value >= scale:
            return f"{_fmt(value / scale)} {name}"
    return _fmt(value)


def _scaled(m: re.Match) -> str:
    return _big(float(m.group(1)) * _SCALES[m.group(2).lower()])


def normalize_quantities(text: str) -> str:
    """Numbers, scales and units in one form, so that equal amounts are equal strings."""
    if not text:
        return text
    out = _WORDNUM.sub(_word_number, text)
    out = _THOUSANDS_SEP.sub("", out)
    out = _SCALED.sub(_scaled, out)
    out = _PLAIN_BIG.sub(lambda m: _big(float(m.group(1))), out)
    for pattern, unit in _UNITS:
        out = pattern.sub(unit, out)
    return out


def premise(title: str | None, text: str) -> str:
    """A passage as the stance model reads it: its page title in front (context for "it", "the
    tower"), unless the text already contains the title; quantities normalised."""
    title = (title or "").strip()
    body = text.strip()
    if title and title.lower() not in body.lower():
        sep = " " if title.endswith((":", "?", ".", "!")) else ": "
        body = f"{title}{sep}{body}"
    return normalize_quantities(body)


def joint_premise(items: Iterable[tuple[str | None, str]]) -> str:
    """Several passages read as one evidence set (the strongest relevant ones, best first)."""
    return " ".join(premise(title, text) for title, text in items)


_NAME = re.compile(r"\b[A-Z][\w'\-]*[A-Za-z]\b")
# Capitalised only because they start a sentence (or are generic): never a claim's name.
_NOT_NAMES = frozenset("""a an the this that these those it its he she they we i you his her their our my your
in on at by for with from as of to and or but if when while after before since during about over under
many most some all any each every no not one two three there here what which who how why where
many several few more less today yesterday tomorrow
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday""".split())


def names(text: str) -> set[str]:
    """The capitalised words of a claim that name something ("Eiffel", "Tower", "Biden"), lower-cased."""
    out = set()
    for m in _NAME.finditer(text):
        word = m.group(0)
        if word.lower() in _NOT_NAMES or len(word) < 2:
            continue
        out.add(word.lower().removesuffix("'s"))
    return out


def shares_subject(claim: str, passage: str) -> bool:
    """Whether a passage (its title and window) is about what the claim names: every name of the
    claim when it has one or two, all but one when it has more; True when the claim names nothing."""
    wanted = names(claim)
    if not wanted:
        return True
    have = set(re.findall(r"[a-z0-9][\w'\-]*", passage.lower()))
    have |= {w.removesuffix("'s") for w in have}
    found = sum(1 for w in wanted if w in have)
    return found >= (len(wanted) if len(wanted) <= 2 else len(wanted) - 1)


_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?![\d.]?\d)")


def numbers_stated(claim: str, text: str) -> bool:
    """Whether every number the claim states (a year, an amount, a count; quantities normalised
    first, so "six million" is "6 million") is stated by `text` too; True when it states none."""
    have = set(_NUMBER.findall(normalize_quantities(text)))
    return all(n in have for n in _NUMBER.findall(normalize_quantities(claim)))
