"""From one check-worthy sentence to atomic, self-contained claim texts (rules over the spaCy parse).

- Opinion wrappers are dropped: a trailing participle clause ("..., marking a troubling shift"), a
  non-restrictive "which" clause carrying opinion words; "<event on DATE> marks <opinion>" and
  "<event from A to B> should serve as <lesson>" become "<event> took place on DATE."
- Two independent clauses joined by "and"/","/";" (each with its own subject) become two claims.
- "By <gerund> X, S <verb> Y" with a "first", superlative or entity in X yields "S <past> X" and,
  unless the main clause is hedged ("has effectively ...") or opinion, "S <verb> Y"; not when the
  main verb attributes intent ("By doing X, Moscow aims to ...").
- "With X <gerund> Y, S <verb> Z" with an entity, number or "first" in the fronted part yields
  "X has been <gerund> Y" and, unless the main clause attributes a belief ("S appears to have
  concluded ..."), intent, is hedged or opinion, "S <verb> Z" (also when the comma is missing and
  the parser reads the sentence as one prepositional phrase).
- Clauses whose main verb attributes intent ("aims to", "hopes to") or only evaluates
  ("undermines", "threatens") are dropped.
- Subjects are made self-contained when the article makes it clear: "this recognition" -> the
  earlier noun phrase with the same head ("Russia's official recognition of the Taliban"),
  "it"/"they" -> the previous sentence's subject, a capital city ("Moscow") -> its country when
  the article names that country.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

__all__ = ["CAPITALS", "SharedSubjectPart", "atomic_claims"]


class SharedSubjectPart(str):
    """A claim text that is one verb of "S V1 X and V2 Y" with S repeated: a fact of a sentence judged
    as a whole, so it keeps the sentence's check-worthiness when its own text scores lower."""

# Capitals used as metonyms for their state ("Moscow has ..."), resolved only when the article names the state.
CAPITALS = {
    "Moscow": "Russia", "Kremlin": "Russia", "Washington": "the United States", "Beijing": "China",
    "Kyiv": "Ukraine", "Kiev": "Ukraine", "Tehran": "Iran", "Ankara": "Turkey", "Islamabad": "Pakistan",
    "Kabul": "Afghanistan", "London": "the United Kingdom", "Paris": "France", "Berlin": "Germany",
    "Tokyo": "Japan", "Pyongyang": "North Korea", "Seoul": "South Korea", "Delhi": "India",
    "New Delhi": "India", "Riyadh": "Saudi Arabia", "Damascus": "Syria", "Baghdad": "Iraq",
    "Jerusalem": "Israel", "Cairo": "Egypt", "Taipei": "Taiwan", "Minsk": "Belarus", "Brussels": "the EU",
}
_OPINION_WORDS = {
    "troubling", "consequential", "dangerous", "dangerously", "damaging", "disastrous", "stark", "alarming",
    "worrying", "regrettable", "shameful", "outrageous", "remarkable", "historic", "welcome", "significant",
    "important", "unprecedented", "questionable", "bold", "reckless", "controversial", "deeply", "risky",
    "gamble", "shift", "milestone", "blow", "setback", "victory", "signal", "turning",
}
# A clause whose main verb attributes intent ("Moscow aims to ...") or only evaluates ("X undermines
# the efforts of ...") is not a checkable claim.
_NOT_CHECKABLE_VERBS = {"aim", "hope", "seek", "want", "intend", "wish", "plan", "undermine", "threaten",
                        "embolden", "legitimize", "legitimise", "sideline"}
# Their inflected forms too: the small spaCy model lemmatises "hopes" as "hop".
_NOT_CHECKABLE_FORMS = _NOT_CHECKABLE_VERBS | {f"{v}{end}" for v in _NOT_CHECKABLE_VERBS for end in ("s", "d", "ed")}
_MODALS = {"should", "must", "ought", "could", "might", "may", "would"}
_MARK_VERBS = {"mark", "represent", "signal", "constitute", "signify", "herald"}
_PRONOUNS = {"it", "they", "he", "she"}
_DEMONSTRATIVES = {"this", "that", "these", "those"}
_GENERIC_PLACES = {"city", "country", "state", "town", "capital", "nation", "region", "province", "village",
                   "county", "republic", "kingdom", "island", "continent", "world"}


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = text.strip(" ,;:")
    if text and text[-1] not in ".!?":
        text += "."
    return text[0].upper() + text[1:] if text else text


def _subtree_span(tok) -> tuple[int, int]:
    """Token index range (start, end) of `tok`'s subtree."""
    return tok.left_edge.i, tok.right_edge.i + 1


def _render(span, drop: Sequence[tuple[int, int]], replace: dict[int, tuple[int, str]]) -> str:
    """Text of `span` (token indexes relative to the doc) without `drop` ranges, with `replace`d ranges."""
    out = []
    i = span.start
    while i < span.end:
        if i in replace:
            end, text = replace[i]
            out.append(text + " ")
            i = end
            continue
        if any(a <= i < b for a, b in drop):
            i += 1
            continue
        tok = span.doc[i]
        out.append(tok.text_with_ws)
        i += 1
    return _clean("".join(out))


def _has_opinion(tokens) -> bool:
    return any(t.lower_ in _OPINION_WORDS for t in tokens)


def _subject(verb):
    for child in verb.children:
        if child.dep_ in ("nsubj", "nsubjpass"):
            return child
    return None


def _antecedent(subj, previous: Sequence[Any], article_gpes: set[str]) -> str | None:
    """Text that a vague subject stands for, looked up in the previous sentences (closest first)."""
    word = subj.text
    if word in CAPITALS and CAPITALS[word].removeprefix("the ") in article_gpes:
        return CAPITALS[word]
    det = [c for c in subj.children if c.dep_ == "det" and c.lower_ in _DEMONSTRATIVES]
    if det and subj.pos_ == "NOUN":
        for span in reversed(previous):
            for chunk in reversed(list(span.noun_chunks)):
                root = chunk.root
                if root.lemma_.lower() == subj.lemma_.lower() and not any(
                        c.lower_ in _DEMONSTRATIVES for c in root.children) and any(
                        c.dep_ in ("poss", "prep", "compound") for c in root.children):
                    start, end = _subtree_span(root)
                    phrase = span.doc[start:end]
                    if len(phrase) <= 12 and len(phrase) > 1:
                        return phrase.text
        return None
    if _is_definite(subj):
        return _named(subj, previous)
    if subj.lower_ in _PRONOUNS:
        # the closest earlier sentence whose subject is a noun phrase ("It ... . It ..." chains back);
        # "it" skips a plural subject ("Many Parisians hated the tower. ... against it")
        for k in range(len(previous) - 1, max(-1, len(previous) - 4), -1):
            prev = previous[k]
            psubj = _subject(prev.root)
            if psubj is None:
                return None
            if psubj.lower_ in _PRONOUNS or (subj.lower_ == "it" and psubj.tag_ in ("NNS", "NNPS")):
                continue
            if psubj.pos_ in ("PROPN", "NOUN"):
                if _is_definite(psubj):
                    named = _named(psubj, previous[:k])
                    if named:
                        return named
                start, end = _subtree_span(psubj)
                phrase = prev.doc[start:end]
                if len(phrase) <= 10:
                    return phrase.text
            return None
    return None


def _is_definite(tok) -> bool:
    """A bare definite description ("the tower"): a common noun whose only modifier is "the"."""
    kids = list(tok.children)
    return (tok.pos_ == "NOUN" and tok.tag_ == "NN" and len(kids) == 1 and kids[0].dep_ == "det"
            and kids[0].lower_ == "the")


def _named(tok, previous: Sequence[Any]) -> str | None:
    """The earlier proper name a definite description stands for: "the tower" -> "the Eiffel Tower"
    (the closest earlier noun phrase whose head is the same word, capitalised as a name)."""
    for span in reversed(previous):
        for chunk in reversed(list(span.noun_chunks)):
            root = chunk.root
            # generic place nouns are left alone: "the city" after "New York City" may be Paris
            if root.pos_ == "PROPN" and root.lower_ == tok.lower_ and len(chunk) >= 2 \
                    and tok.lower_ not in _GENERIC_PLACES:
                words = [t for t in chunk if t.dep_ != "poss"]
                text = " ".join(t.text for t in words)
                if not text.lower().startswith("the "):
                    text = "the " + text
                return text if len(words) <= 8 else None
    return None


def _resolve_objects(tokens, span, previous, replace: dict[int, tuple[int, str]]) -> None:
    """Definite descriptions and "it" outside the subject ("hated the tower", "a letter against it")."""
    for tok in tokens:
        if tok.dep_ not in ("dobj", "pobj") or tok.i in replace or any(a <= tok.i < e for a, (e, _) in replace.items()):
            continue
        if _is_definite(tok):
            named = _named(tok, previous)
            if named:
                start, end = _subtree_span(tok)
                replace[start] = (end, named[0].lower() + named[1:] if named.startswith("The ") else named)
        elif tok.lower_ == "it":
            # the closest definite description before it (this sentence first, then the two before)
            # that names something, never a word "it" depends on ("a letter against it")
            ancestors = {a.i for a in tok.ancestors}
            here = [t for t in tok.doc[tok.sent.start:tok.i] if t.i not in ancestors]
            for cands in (here, *(list(p) for p in reversed(previous[-2:]))):
                definite = [t for t in cands if t.dep_ in ("nsubj", "nsubjpass", "dobj", "pobj") and _is_definite(t)]
                named = _named(definite[-1], previous) if definite else None
                if named:
                    replace[tok.i] = (tok.i + 1, named[0].lower() + named[1:] if named.startswith("The ") else named)
                    break


def _hyphen_joined(tok) -> bool:
    """The second half of a hyphenated word the tokenizer split ("co-sponsored": "co", "-", "sponsored")."""
    dash = tok.doc[tok.i - 1] if tok.i > 0 else None
    return dash is not None and dash.text == "-" and not dash.whitespace_ and dash.i > 0 \
        and not tok.doc[dash.i - 1].whitespace_


def _shared_subject_conjuncts(root) -> list:
    """Verbs joined to `root` by "and" that have no subject of their own but an object or
    complement of their own ("... made of iron and weighs 10,100 tonnes"): each is a second fact
    about the root's subject."""
    if _subject(root) is None or _subject(root).lower_ in ("which", "that", "who"):
        return []
    if any(c.tag_ == "MD" for c in root.children):  # predictions ("will only deepen ... and could export")
        return []
    out = []
    frontier = [root]
    while frontier:
        head = frontier.pop()
        for c in head.children:
            if c.dep_ == "conj" and c.pos_ == "VERB" and _subject(c) is None and not _hyphen_joined(c) and not any(
                    k.tag_ == "MD" for k in c.children) and any(
                    k.dep_ in ("dobj", "attr", "acomp", "prep", "agent", "dative", "oprd") for k in c.children):
                out.append(c)
                frontier.append(c)
    return sorted(out, key=lambda t: t.i)


def _resolve_subject(verb, span, previous, article_gpes, replace: dict[int, tuple[int, str]]) -> None:
    subj = _subject(verb)
    if subj is None:
        return
    found = _antecedent(subj, previous, article_gpes)
    if not found:
        return
    if subj.text in CAPITALS:
        replace[subj.i] = (subj.i + 1, found)
    else:
        start, end = _subtree_span(subj)
        if subj.lower_ in _PRONOUNS:
            start, end = subj.i, subj.i + 1
        if start == span.start:
            found = found[0].upper() + found[1:]
        elif found.split(" ", 1)[0] in ("The", "A", "An"):
            found = found[0].lower() + found[1:]
        replace[start] = (end, found)


def _nominal_event(span, root) -> str | None:
    """'<event ... on DATE> marks <opinion>' and '<event ... from A to B> should <anything>' (a
    lesson, wish or forecast about a dated event) -> '<event> took place <DATE>.', opinion
    adjectives of the event dropped."""
    if not any(c.dep_ == "aux" and c.lower_ in _MODALS for c in root.children):
        if root.lemma_.lower() not in _MARK_VERBS:
            return None
        obj = [c for c in root.children if c.dep_ in ("dobj", "attr")]
        if not obj or not _has_opinion(obj[0].subtree):
            return None
    subj = _subject(root)
    if subj is None or subj.pos_ != "NOUN":
        return None
    date_pp = None
    for tok in subj.subtree:
        if tok.dep_ == "prep" and any(t.ent_type_ == "DATE" for t in tok.subtree):
            date_pp = tok
    if date_pp is None:
        return None
    s0, s1 = _subtree_span(subj)
    d0, d1 = _subtree_span(date_pp)
    opinion = [(t.i, t.i + 1) for t in subj.subtree if t.dep_ == "amod" and t.lower_ in _OPINION_WORDS]
    event = _render(span.doc[s0:s1], [(d0, d1)] + opinion, {}).rstrip(".")
    when = span.doc[d0:d1].text.strip(" ,")
    return _clean(f"{event} took place {when}")


# Past tense of the irregular verbs a "By <gerund> ..." clause meets in news prose; others take -ed.
_IRREGULAR_PAST = {
    "be": "was", "become": "became", "begin": "began", "break": "broke", "bring": "brought", "build": "built",
    "buy": "bought", "choose": "chose", "come": "came", "do": "did", "fight": "fought", "find": "found",
    "forbid": "forbade", "give": "gave", "go": "went", "hold": "held", "keep": "kept", "lead": "led",
    "leave": "left", "lose": "lost", "make": "made", "meet": "met", "overthrow": "overthrew", "pay": "paid",
    "rise": "rose", "run": "ran", "say": "said", "sell": "sold", "send": "sent", "set": "set", "shut": "shut",
    "speak": "spoke", "spend": "spent", "strike": "struck", "take": "took", "tell": "told", "win": "won",
    "withdraw": "withdrew", "write": "wrote", "undertake": "undertook",
}
# Adverbs that make a main clause an interpretation of the fronted fact ("..., X has effectively redrawn ...").
_HEDGE_ADVERBS = {"effectively", "essentially", "arguably", "virtually", "practically", "symbolically"}
# What makes the fronted clause worth its own claim: a "first"/"only"/superlative or a named or numeric entity.
_FACT_ENTS = {"DATE", "CARDINAL", "ORDINAL", "PERCENT", "MONEY", "QUANTITY", "GPE", "ORG", "PERSON", "NORP", "EVENT"}


def _attributes_intent(verb) -> bool:
    return verb.lemma_.lower() in _NOT_CHECKABLE_VERBS or verb.lower_ in _NOT_CHECKABLE_FORMS


def _holds_fact(tokens) -> bool:
    return any(t.lower_ in ("first", "only", "last") or t.tag_ == "JJS" or t.ent_type_ in _FACT_ENTS for t in tokens)


def _hedged(verb) -> bool:
    return any(t.dep_ == "advmod" and t.lower_ in _HEDGE_ADVERBS for t in verb.children)


def _past(lemma: str) -> str:
    lemma = lemma.lower()
    if lemma in _IRREGULAR_PAST:
        return _IRREGULAR_PAST[lemma]
    if lemma.endswith("e"):
        return lemma + "d"
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgklmnprt]", lemma):  # ban -> banned, stop -> stopped
        return lemma + lemma[-1] + "ed"
    if re.fullmatch(r".*[^aeiou]y", lemma):
        return lemma[:-1] + "ied"
    return lemma + "ed"


def _by_gerund(span, root, previous, gpes) -> list[str] | None:
    """'By <gerund> X, S <verb> Y.' -> 'S <gerund in the past> X.' (the fronted fact, when it holds a
    "first", a superlative or an entity), plus 'S <verb> Y.' unless that main clause is opinion or
    hedged ("has effectively redrawn ...")."""
    by = next((c for c in root.children if c.dep_ == "prep" and c.lower_ == "by" and c.i == span.start), None)
    if by is None:
        return None
    gerund = next((c for c in by.children if c.dep_ == "pcomp" and c.tag_ == "VBG"), None)
    subj = _subject(root)
    if gerund is None or subj is None or subj.i < by.right_edge.i:
        return None
    if _attributes_intent(root):
        return None  # "By doing X, Moscow aims to ...": the sentence attributes intent
    if not _holds_fact(gerund.subtree):
        return None
    replace: dict[int, tuple[int, str]] = {}
    _resolve_subject(root, span, previous, gpes, replace)
    s0, s1 = _subtree_span(subj)
    who = replace[s0][1] if s0 in replace else span.doc[s0:s1].text
    before = span.doc[gerund.left_edge.i:gerund.i].text  # "By officially recognizing": keep "officially"
    rest = span.doc[gerund.i + 1:gerund.right_edge.i + 1].text
    claims = [_clean(" ".join(x for x in (who, before, _past(gerund.lemma_), rest) if x))]  # _clean capitalises
    b0, b1 = by.i, by.right_edge.i + 1
    if b1 < span.end and span.doc[b1].text == ",":
        b1 += 1
    main = [t for t in span if not b0 <= t.i < b1]
    if not _hedged(root) and not _has_opinion(main):
        claims.append(_render(span, [(b0, b1)], replace))
    return claims


# Main verbs that attribute a belief to the subject ("Moscow appears to have concluded that ..."):
# with an infinitive after them the clause reports a reading of minds, not a checkable fact.
_ATTRIBUTING_VERBS = {"appear", "seem"}


def _not_checkable(verb) -> bool:
    return _attributes_intent(verb) or (
        verb.lemma_.lower() in _ATTRIBUTING_VERBS and any(c.dep_ == "xcomp" for c in verb.children))


def _with_gerund(span, previous, gpes) -> list[str] | None:
    """'With X <gerund> Y, S <verb> Z.' -> 'X has been <gerund> Y.' (when the fronted part holds an
    entity, a number or a "first"), plus 'S <verb> Z.' unless that clause is attributed belief or
    intent, hedged or opinion. Works on the tokens, so a missing comma (which makes the small spaCy
    model parse the whole sentence as one prepositional phrase) does not hide the pattern."""
    doc = span.doc
    if span[0].lower_ != "with" or len(span) < 6:
        return None
    # The main clause starts at the first subject (after the fronted part) of a finite verb to its right.
    main_verb = next((t.head for t in span[2:] if t.dep_ in ("nsubj", "nsubjpass") and t.head.i > t.i
                      and t.head.pos_ in ("VERB", "AUX") and t.head.tag_ != "VBG"), None)
    if main_verb is None:
        return None
    subj = _subject(main_verb)
    m = subj.left_edge.i
    gerund = next((t for t in doc[span.start + 1:m] if t.tag_ == "VBG"), None)
    if gerund is None or gerund.i <= span.start + 1:
        return None
    who = doc[span.start + 1:gerund.i]
    heads = [t for t in who if t.pos_ in ("NOUN", "PROPN") and not who.start <= t.head.i < who.end]
    if not heads or not _holds_fact(doc[span.start + 1:m]):
        return None
    aux = "have been" if heads[0].tag_ in ("NNS", "NNPS") else "has been"
    what = doc[gerund.i:m].text
    claims = [_clean(f"{who.text} {aux} {what}")]
    main = doc[m:span.end]
    if not (_not_checkable(main_verb) or _hedged(main_verb) or _has_opinion(main)):
        replace: dict[int, tuple[int, str]] = {}
        _resolve_subject(main_verb, main, previous, gpes, replace)
        claims.append(_render(main, [], replace))
    return claims


def atomic_claims(span, previous: Sequence[Any] = (), article_gpes: set[str] | None = None) -> list[str]:
    """Atomic claim texts for one sentence (a spaCy Span); `previous` are the spans before it.

    An empty list means the sentence holds no checkable claim (attributed intent, evaluation only).
    """
    gpes = article_gpes or set()
    root = span.root
    event = _nominal_event(span, root)
    if event:
        return [event]
    fronted = _by_gerund(span, root, previous, gpes) or _with_gerund(span, previous, gpes)
    if fronted:
        return fronted
    # Independent clauses: the root and its verb conjuncts that have their own subject.
    clauses = [root]
    frontier = [root]
    while frontier:
        head = frontier.pop()
        for c in head.children:
            if c.dep_ == "conj" and c.pos_ in ("VERB", "AUX") and _subject(c) is not None:
                clauses.append(c)
                frontier.append(c)
    clauses.sort(key=lambda t: t.i)
    root = clauses[0]
    drop: list[tuple[int, int]] = []
    for verb in clauses:
        for child in verb.children:
            # ", marking a troubling shift": a trailing participle clause that only comments
            if child.dep_ in ("advcl", "xcomp") and child.tag_ == "VBG" and child.i > verb.i \
                    and _has_opinion(child.subtree) and span.doc[child.left_edge.i - 1].text == ",":
                drop.append((child.left_edge.i - 1, child.right_edge.i + 1))
            # ", which is troubling"
            if child.dep_ == "relcl" and _has_opinion(child.subtree):
                a, b = _subtree_span(child)
                if span.doc[a - 1].text == ",":
                    drop.append((a - 1, b))
    # ", which makes it one of ...": a trailing non-restrictive clause about the whole fact is a second,
    # looser claim; the fact is checked without it
    for tok in span:
        if tok.dep_ == "relcl" and any(c.lower_ == "which" and c.dep_ in ("nsubj", "nsubjpass") for c in tok.children):
            a, b = _subtree_span(tok)
            if span.doc[a - 1].text == "," and b >= span.end - 1 and tok.head.i < a:
                drop.append((a - 1, b))
    clauses = [v for v in clauses if not _attributes_intent(v)]
    if not clauses:
        return []
    root = clauses[0]
    texts: list[str] = []
    if len(clauses) == 1:
        replace: dict[int, tuple[int, str]] = {}
        _resolve_subject(root, span, previous, gpes, replace)
        _resolve_objects(span, span, previous, replace)
        shared = _shared_subject_conjuncts(root)
        if shared:
            # "The tower is made of iron and weighs 10,100 tonnes": one claim per verb, the subject repeated
            subj = _subject(root)
            a, b = _subtree_span(subj)
            subject_text = replace[a][1] if a in replace else span.doc[a:b].text
            first_end = min([v.left_edge.i for v in shared]
                            + [t.i for t in root.children if t.dep_ == "cc" and t.i < shared[0].i])
            texts.append(_render(span.doc[span.start:first_end], drop, replace))
            for verb in shared:
                vs, ve = _subtree_span(verb)
                ve = min(ve, *(v.left_edge.i for v in shared if v.i > verb.i), span.end)
                cc_end = [t.i for t in verb.children if t.dep_ == "cc" and t.i > verb.i]
                if cc_end:
                    ve = min(ve, cc_end[0])
                part = _render(span.doc[vs:ve], drop, {k: v for k, v in replace.items() if vs <= k < ve})
                texts.append(_clean(subject_text + " " + part[0].lower() + part[1:]))
            texts = [SharedSubjectPart(t) for t in texts if len(t.split()) >= 4]
        else:
            texts.append(_render(span, drop, replace))
    else:
        bounds = []
        for k, verb in enumerate(clauses):
            start = span.start if k == 0 else min(verb.left_edge.i, _subject(verb).left_edge.i)
            bounds.append(start)
        bounds.append(span.end)
        for k, verb in enumerate(clauses):
            part = span.doc[bounds[k]:bounds[k + 1]]
            # the first clause must not carry the later clauses' conjunction or punctuation
            cut = [(t.i, t.i + 1) for t in part if t.dep_ in ("cc", "punct") and t.i > verb.i
                   and t.head in clauses and t.i == part.end - 1 or (t.dep_ == "cc" and t.head in clauses
                                                                     and t.i > verb.i)]
            replace = {}
            subj = _subject(verb)
            if k > 0 and subj is not None and subj.lower_ in _PRONOUNS:
                first = _subject(clauses[0])  # "X is not A, it is B": "it" is the first clause's subject
                if first is not None and first.lower_ not in _PRONOUNS:
                    a, b = _subtree_span(first)
                    replace[subj.i] = (subj.i + 1, span.doc[a:b].text)
            else:
                _resolve_subject(verb, part, previous, gpes, replace)
            _resolve_objects(part, part, previous, replace)
            text = _render(part, drop + (cut if k == 0 else []), replace)
            if len(text.split()) >= 4:
                texts.append(text)
    return [t for t in dict.fromkeys(texts) if t]  # (dict.fromkeys keeps the first object: its type too)
