"""FEVER-style contrast pairs made from the redistributable NLI pairs, for `factledger train stance`.

Fact-checking refutations are mostly small edits of a true statement: a nationality, a year, a
place, a work's kind or its maker changed ("a 2011 French film" -> "a 2011 Pakistani film"), or a
claim negated ("X has yet to ...", "X refused to ..."). NLI sets teach these edits only weakly, so
the stance model confuses "about the same thing" with "says the same thing". This module makes the
edits from pairs whose label is already known:

- `swap_premise`: in an entailment pair, one entity, number or category word that the hypothesis
  relies on is replaced in the premise by another of the same kind -> contradiction. Never the
  hypothesis' subject (the passage would then be about someone else: neutral, not a refutation)
  and never a member of a list ("A, B and C" -> "A, D and C" leaves "A and C" true).
- `negate`: the hypothesis' main clause negated (not / never / has yet to / refused to / was
  unable to), or a negation removed -> contradiction.
- Both at once (`swap + negate`): the premise now refutes the original claim, so it supports the
  negated one -> entailment (FEVER's "not an album by X" supported by "an album by Y").

Every pair keeps the dataset it came from (`<set>+synth`), so the training data stays within the
licences of the redistributable sets. Deterministic for a seed.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

__all__ = ["CATEGORY_GROUPS", "SynthPair", "entity_pool", "negate", "refer_back", "retrieved_neutrals", "short_claims",
           "swap_claim", "swap_premise", "synthesize"]

# Mutually exclusive kinds of things: a word replaced by another of its group changes the fact.
CATEGORY_GROUPS: tuple[tuple[str, ...], ...] = (
    ("film", "novel", "album", "song", "book", "play", "opera", "poem", "painting", "sculpture",
     "television series", "video game", "magazine", "newspaper", "musical", "documentary", "sitcom"),
    ("actor", "actress", "singer", "writer", "novelist", "poet", "painter", "politician", "footballer",
     "boxer", "journalist", "director", "composer", "rapper", "comedian", "architect", "scientist",
     "lawyer", "dancer", "physician", "engineer", "businessman", "astronaut", "chef", "photographer",
     "wrestler", "cyclist", "guitarist", "drummer", "pianist", "economist", "historian", "philosopher"),
    ("city", "town", "village", "country", "state", "province", "island", "river", "lake", "mountain",
     "county", "desert", "peninsula"),
    ("company", "band", "university", "political party", "airline", "hospital", "museum", "church",
     "bank", "restaurant", "prison", "library"),
    ("dog", "cat", "horse", "bird", "fish", "cow", "sheep", "goat", "pig", "snake", "lion", "tiger",
     "bear", "rabbit", "monkey", "elephant", "duck", "chicken"),
    ("rock", "jazz", "pop", "hip hop", "country", "blues", "punk", "heavy metal", "classical", "reggae",
     "folk", "techno", "soul", "disco", "gospel", "opera"),
    ("red", "blue", "green", "yellow", "black", "white", "orange", "purple", "pink", "brown", "gray"),
    ("football", "basketball", "tennis", "baseball", "soccer", "golf", "hockey", "cricket", "rugby",
     "volleyball", "swimming", "boxing", "chess"),
    ("guitar", "piano", "violin", "drums", "trumpet", "saxophone", "flute", "cello", "harp"),
    ("man", "woman"), ("men", "women"), ("boy", "girl"), ("boys", "girls"), ("husband", "wife"),
    ("father", "mother"), ("son", "daughter"), ("brother", "sister"), ("king", "queen"),
    ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"),
    ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
     "November", "December"),
    ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    ("north", "south", "east", "west"), ("northern", "southern", "eastern", "western"),
    ("summer", "winter", "spring", "autumn"),
    ("sitting", "standing", "running", "walking", "sleeping", "swimming", "dancing", "eating"),
    ("inside", "outside"), ("day", "night"), ("before", "after"), ("older", "younger"),
    ("largest", "smallest"), ("highest", "lowest"), ("oldest", "youngest"),
)
_GROUP_OF = {w: g for g in CATEGORY_GROUPS for w in g}
# Entity kinds whose values exclude each other in a statement of fact.
SWAP_LABELS = ("NORP", "GPE", "LANGUAGE", "PERSON", "ORG", "WORK_OF_ART", "EVENT", "LOC", "FAC")
# Negations that say exactly "not h" (a premise refuting h entails them).
_PLAIN_NEGATIONS = {"not", "cannot", "did_not", "does_not", "do_not"}
# Sets of Wikipedia sentences, where FEVER-style short claims can be read off the parse.
_WIKI_SETS = ("conjnli", "fm2")
# Main verbs whose negation is not the negation of the content ("I do not think it is X").
_REPORTING = {"think", "believe", "say", "feel", "guess", "suppose", "mean", "seem", "appear", "know", "hope",
              "claim", "report", "suggest", "want", "like", "love", "hate", "understand", "remember", "doubt",
              "wonder", "expect"}
# A quantified or habitual subject/verb: "some are not", "often does not" do not contradict.
_QUANTIFIERS = {"some", "many", "most", "several", "few", "all", "every", "each", "both", "any", "no", "none",
                "often", "sometimes", "usually", "frequently", "occasionally", "generally", "typically", "mostly",
                "always", "rarely", "also", "probably", "possibly", "perhaps", "maybe", "likely"}
_YEAR = re.compile(r"\b(1[5-9]\d\d|20[0-4]\d)\b")
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b")


@dataclass(frozen=True, slots=True)
class SynthPair:
    premise: str
    hypothesis: str
    label: str  # entailment | neutral | contradiction
    dataset: str
    kind: str  # swap:<what> | negate:<how> | swap+negate


def entity_pool(docs: Iterable) -> dict[str, list[str]]:
    """Entity strings by spaCy label, from parsed texts (the replacement candidates)."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for doc in docs:
        for ent in doc.ents:
            text = ent.text.strip()
            if ent.label_ in SWAP_LABELS and 2 <= len(text) <= 40 and "\n" not in text and text[:1].isupper():
                counts[ent.label_][text] += 1
    # seen at least twice under the same label: drops most of the tagger's one-off mistakes
    return {k: sorted(t for t, n in v.items() if n >= 2) for k, v in counts.items()}


def _word_re(text: str) -> re.Pattern:
    return re.compile(rf"(?<![\w-]){re.escape(text)}(?![\w-])")


def _in_list(span) -> bool:
    """Part of a coordination ("A, B and C"): swapping one member leaves the others' claim true."""
    for tok in span:
        if tok.dep_ == "conj" or any(c.dep_ in ("conj", "cc") for c in tok.children):
            return True
        if tok.head.dep_ == "conj" and tok.dep_ in ("compound", "amod", "nmod"):
            return True
    return False


def _subject_ids(doc) -> set[int]:
    ids: set[int] = set()
    for tok in doc:
        if tok.dep_ in ("nsubj", "nsubjpass") and tok.head.dep_ == "ROOT":
            ids |= {t.i for t in tok.subtree}
    return ids


def _other_year(year: str, rng: random.Random) -> str:
    y = int(year)
    return str(y + rng.choice([d for d in range(-12, 13) if d]))


def _other_number(num: str, rng: random.Random) -> str:
    if "." in num or "," in num:
        return num.replace(num[0], str((int(num[0]) + rng.randint(1, 8)) % 10 or 1), 1)
    n = int(num)
    if n <= 12:
        return str(rng.choice([k for k in range(2, 20) if k != n]))
    return str(max(1, n + rng.choice([-1, 1]) * rng.randint(max(1, n // 10), max(2, n // 2))))


def _replace_case(word: str, new: str) -> str:
    return new.capitalize() if word[:1].isupper() and new[:1].islower() else new


def _swap_options(hyp_doc, premise: str, pool: dict[str, list[str]], rng: random.Random) -> list[tuple[str, str, str]]:
    """(old text, new text, kind) for each thing the hypothesis states, other than its subject and
    list members, that `premise` states too, with a replacement of its kind."""
    subject = _subject_ids(hyp_doc)
    options: list[tuple[str, str, str]] = []  # (old text, new text, kind)
    subject_start = min(subject, default=0)
    for ent in hyp_doc.ents:
        if any(t.i in subject for t in ent) or _in_list(ent):
            continue
        if ent.start < subject_start and ent.label_ in SWAP_LABELS:
            continue  # a frame before the subject ("In Orwell's Animal Farm, ..."), not what is claimed
        text = ent.text.strip()
        if not _word_re(text).search(premise):
            continue
        if ent.label_ == "DATE" and _YEAR.search(text):
            y = _YEAR.search(text).group(0)
            options.append((y, _other_year(y, rng), "year"))
        elif ent.label_ in ("CARDINAL", "QUANTITY", "MONEY", "PERCENT") and _NUMBER.search(text):
            n = _NUMBER.search(text).group(0)
            options.append((n, _other_number(n, rng), "number"))
        elif ent.label_ in SWAP_LABELS and pool.get(ent.label_):
            for _ in range(5):
                cand = rng.choice(pool[ent.label_])
                if cand.lower() not in text.lower() and text.lower() not in cand.lower():
                    options.append((text, cand, ent.label_.lower()))
                    break
    for tok in hyp_doc:
        if tok.i in subject or tok.ent_type_ or _in_list([tok]):
            continue
        word = tok.text if tok.text in _GROUP_OF else tok.lower_
        group = _GROUP_OF.get(word)
        if group is None or not _word_re(tok.text).search(premise):
            continue
        new = rng.choice([w for w in group if w != word])
        options.append((tok.text, _replace_case(tok.text, new), "category"))
    return options


def swap_premise(premise_doc, hyp_doc, pool: dict[str, list[str]], rng: random.Random) -> tuple[str, str] | None:
    """The premise with one thing the hypothesis states replaced by another of its kind.

    Returns (new premise, what was swapped) or None when nothing safe to swap is found.
    """
    return _swap(premise_doc.text, hyp_doc, premise_doc.text, pool, rng)


def swap_claim(claim_doc, evidence: str, pool: dict[str, list[str]], rng: random.Random) -> tuple[str, str] | None:
    """The claim with one thing it states, which its evidence states too, replaced by another of its
    kind (a year, a number, a nationality, a place, a name other than its subject, a category word):
    evidence that supports the claim refutes the altered one ("... in 2021" against evidence saying
    2021, now claimed as 2017). Returns (altered claim, what was swapped) or None when nothing safe is
    found, or when the evidence also states the replacement."""
    return _swap(claim_doc.text, claim_doc, evidence, pool, rng, evidence)


def _swap(text: str, hyp_doc, stated_in: str, pool: dict[str, list[str]], rng: random.Random,
          not_in: str = "") -> tuple[str, str] | None:
    """`text` with one thing the hypothesis states, and `stated_in` states too, replaced by another of
    its kind (one not in `not_in`): (new text, what was swapped), or None."""
    options = _swap_options(hyp_doc, stated_in, pool, rng)
    if not options:
        return None
    old, new, kind = rng.choice(options)
    pattern = _word_re(old)
    if pattern.search(new) or not pattern.search(text) or (not_in and _word_re(new).search(not_in)):
        return None
    return pattern.sub(new, text), kind


def _root(doc):
    roots = [t for t in doc if t.dep_ == "ROOT"]
    return roots[0] if roots else None


def negate(doc, rng: random.Random) -> tuple[str, str] | None:
    """The sentence with its main clause negated (or its negation removed); None if unsure.

    Returns (new text, how). Handles auxiliaries and copulas (insert "not", or "never" / "has yet
    to" after a perfect auxiliary, "cannot"), and simple past / present verbs ("did not V",
    "does not V", "refused to V", "was unable to V").
    """
    root = _root(doc)
    if root is None or root.pos_ not in ("VERB", "AUX") or root.lemma_ in _REPORTING:
        return None
    if any(t.lower_ in _QUANTIFIERS for t in doc if t.head == root or t.head.head == root):
        return None
    if any(c.dep_ in ("conj", "cc") for c in root.children) or any(t.lower_ in ("only", "but") for t in doc):
        return None  # two clauses ("X did A, but B") or "only": the negation would not negate the claim
    text = doc.text
    negs = [c for c in root.children if c.dep_ == "neg"]
    if negs:  # remove the negation: "X is not Y" -> "X is Y"
        neg = negs[0]
        if neg.lower_ == "n't":
            aux = doc[neg.i - 1]
            full = {"ca": "can", "wo": "will", "do": "do", "does": "does", "did": "did"}.get(aux.lower_, aux.text)
            if aux.lower_ in ("do", "does", "did"):
                return None  # "didn't go" -> "went" needs inflection; skip
            return text[:aux.idx] + full + text[neg.idx + len(neg.text):], "unnegate"
        if doc[neg.i - 1].lower_ in ("do", "does", "did"):
            return None
        start, end = neg.idx, neg.idx + len(neg.text) + (1 if neg.whitespace_ else 0)
        return text[:start] + text[end:], "unnegate"
    auxes = [c for c in root.children if c.dep_ in ("aux", "auxpass") and c.i < root.i]
    if root.lemma_ == "be" and not auxes:
        auxes = [root]
    if auxes:
        aux = auxes[0]
        after = aux.idx + len(aux.text)
        low = aux.lower_
        if low == "can":
            return text[:aux.idx] + _replace_case(aux.text, "cannot") + text[after:], "cannot"
        if low in ("has", "have") and root.tag_ == "VBN" and rng.random() < 0.5:
            if rng.random() < 0.5:
                return text[:after] + " never" + text[after:], "never"
            return text[:aux.idx] + f"{aux.text} yet to {root.lemma_}" + text[root.idx + len(root.text):], "yet_to"
        return text[:after] + " not" + text[after:], "not"
    if root.pos_ != "VERB" or root.tag_ not in ("VBD", "VBZ", "VBP"):
        return None
    lemma = root.lemma_
    end = root.idx + len(root.text)
    if root.tag_ == "VBD":
        how = rng.choice(["did_not", "did_not", "never", "refused", "unable"])
        new = {"did_not": f"did not {lemma}", "never": f"never {root.text}", "refused": f"refused to {lemma}",
               "unable": f"was unable to {lemma}"}[how]
    else:
        how = "does_not" if root.tag_ == "VBZ" else "do_not"
        new = ("does not " if root.tag_ == "VBZ" else "do not ") + lemma
    return text[:root.idx] + new + text[end:], how


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" and not word.lower().startswith(("uni", "eu", "one")) else "a"


def _span_text(tokens) -> str:
    """Text of a token run without parenthesised parts ("Arizona ( ... ) is" -> "Arizona")."""
    out, depth = [], 0
    for t in tokens:
        if t.text in "([":
            depth += 1
        elif t.text in ")]":
            depth = max(0, depth - 1)
        elif not depth:
            out.append(t.text_with_ws)
    return re.sub(r"\s+", " ", "".join(out)).strip(" ,")


def short_claims(doc) -> list[str]:
    """FEVER-length claims a Wikipedia-style sentence states, read off its parse:
    "Colombiana is a 2011 French action film directed by Olivier Megaton." gives "Colombiana is a
    film.", "Colombiana is a French film.", "Colombiana is a 2011 film.", "Colombiana was directed
    by Olivier Megaton."; "(born 8 January 1964)" gives "... was born in 1964."."""
    root = _root(doc)
    if root is None:
        return []
    subj = [c for c in root.children if c.dep_ == "nsubj"]
    if not subj or subj[0].pos_ != "PROPN":
        return []
    toks = [t for t in subj[0].subtree]
    if toks[0].i != 0 or len(toks) > 12:
        return []
    name = _span_text(toks)
    if not name or len(name.split()) > 6 or "," in name:
        return []
    out: list[str] = []
    attrs = [c for c in root.children if c.dep_ == "attr" and c.pos_ == "NOUN"] if root.lemma_ == "be" else []
    if attrs and not any(c.dep_ == "neg" for c in root.children) and not _in_list([attrs[0]]):
        a = attrs[0]
        be = root.text if root.text in ("is", "was", "are", "were") else "is"
        comp = [c for c in a.children if c.dep_ == "compound" and c.i == a.i - 1 and c.pos_ == "NOUN"]
        head = (comp[0].text + " " if comp else "") + a.text
        the = any(c.lower_ == "the" for c in a.children if c.dep_ == "det")

        def np(mod: str = "") -> str:
            words = f"{mod} {head}".strip()
            return f"the {words}" if the else f"{_article(words)} {words}"

        if not the:  # "X is the book" says less than the sentence means
            out.append(f"{name} {be} {np()}.")
        for c in a.children:
            if c.dep_ == "amod" and c.pos_ in ("ADJ", "PROPN") and c.tag_ not in ("JJS", "JJR") and not _in_list([c]):
                out.append(f"{name} {be} {np(c.text)}.")
            elif c.dep_ == "nummod" and _YEAR.fullmatch(c.text):
                out.append(f"{name} {be} {np(c.text)}.")
            elif c.dep_ == "acl" and c.tag_ == "VBN":
                agent = [g for g in c.children if g.dep_ == "agent"]
                objs = [o for g in agent for o in g.children if o.dep_ == "pobj"]
                if objs and not _in_list(list(objs[0].subtree)) and len(list(objs[0].subtree)) <= 6:
                    out.append(f"{name} was {c.text} by {_span_text(objs[0].subtree)}.")
            elif c.dep_ == "prep" and c.lower_ == "by":
                objs = [o for o in c.children if o.dep_ == "pobj"]
                if objs and not _in_list(list(objs[0].subtree)) and len(list(objs[0].subtree)) <= 6:
                    out.append(f"{name} {be} {np()} by {_span_text(objs[0].subtree)}.")
    born = re.search(r"\(born [^;)]*?\b(1[5-9]\d\d|20[0-2]\d)\b", doc.text)
    if born:
        out.append(f"{name} was born in {born.group(1)}.")
    return list(dict.fromkeys(out))


def refer_back(premise_doc, hyp_doc, rng: random.Random) -> str | None:
    """The premise with its subject, which the hypothesis names, said as a pronoun, a surname or
    "The <kind>" ("Colombiana is a film ..." -> "It is a film ..."), as evidence sentences taken from
    the middle of a page read. None when the premise does not open with the hypothesis' subject."""
    subj = [t for t in hyp_doc if t.dep_ in ("nsubj", "nsubjpass") and t.head.dep_ == "ROOT"]
    if not subj:
        return None
    head = subj[0]
    toks = list(head.subtree)
    name = hyp_doc[toks[0].i:toks[-1].i + 1].text
    premise = premise_doc.text
    if len(toks) > 6 or not premise.startswith(name) or not name[:1].isupper() or name.lower().startswith(("a ", "an ", "the ")):
        return None
    rest = premise[len(name):]
    paren = re.match(r"\s*\([^()]*\)", rest)
    if paren:  # "X (born 1964) is ..." -> "He is ..."
        rest = rest[paren.end():]
    if not re.match(r"\s+[a-z]", rest):
        return None  # "X, ..." or "X's ..." : the subject is not simply the sentence's opening noun phrase
    ents = [e for e in hyp_doc.ents if e.start <= head.i < e.end]
    if not ents:
        return None  # not a named subject: "It" could be wrong ("Julius nodded" -> "It nodded")
    if ents[0].label_ == "PERSON":
        words = name.split()
        ref = rng.choice([words[-1], "He", "She"]) if len(words) > 1 else rng.choice(["He", "She"])
    elif head.tag_ in ("NNS", "NNPS"):
        ref = "They"
    else:
        kinds = [w for w in premise_doc[:25] if w.lower_ in _GROUP_OF and w.pos_ == "NOUN"]
        ref = f"The {kinds[0].lower_}" if kinds and rng.random() < 0.5 else "It"
    return ref + rest


def synthesize(pairs: Sequence, nlp, *, seed: int, per_pair: float = 1.0) -> list[SynthPair]:
    """Contrast pairs from `pairs` (objects with premise, hypothesis, dataset and label as
    "entailment"/"neutral"/"contradiction" or an index into that order), about `per_pair` new pairs
    per entailment pair, in a seeded order. First, FEVER-length claims read off the Wikipedia
    sentences (`short_claims`) are added as entailment pairs. Then from an entailment pair, one of:

    - hypothesis negated -> contradiction (30%);
    - premise swapped and hypothesis plainly negated -> entailment (10%);
    - premise swapped -> contradiction (35%);
    - premise subject said as a pronoun / surname -> entailment (25%).

    And from contradiction pairs, as many hypotheses plainly negated -> entailment as there were
    negations above: a negated claim is then as often supported as refuted, so "not" alone never
    tells the label.
    """
    rng = random.Random(seed)
    ent = [p for p in pairs if p.label in ("entailment", 0)]
    con = [p for p in pairs if p.label in ("contradiction", 2)]
    out: list[SynthPair] = []
    # FEVER-length claims read off the Wikipedia sentences (ConjNLI, FM2 premises): entailed as they
    # are, and mutated below like the other entailment pairs
    wiki = list(dict.fromkeys(p.premise for p in pairs if p.dataset in _WIKI_SETS))
    wiki_set = {p.premise: p.dataset for p in pairs if p.dataset in _WIKI_SETS}
    for text, doc in zip(wiki, nlp.pipe(wiki, batch_size=256)):
        for claim in short_claims(doc):
            out.append(SynthPair(text, claim, "entailment", f"{wiki_set[text]}+synth", "short_claim"))
    ent += out
    rng.shuffle(ent)
    rng.shuffle(con)
    target = int(len(ent) * per_pair)
    ent = ent[:int(target * 1.6) + 10]  # about as many as the target needs (some give nothing)
    target += len(out)
    prem_docs = list(nlp.pipe([p.premise for p in ent], batch_size=256))
    hyp_docs = list(nlp.pipe([p.hypothesis for p in ent], batch_size=256))
    pool = entity_pool(prem_docs)
    negated = 0
    for p, pd, hd in zip(ent, prem_docs, hyp_docs):
        if len(out) >= target:
            break
        r = rng.random()
        name = p.dataset if p.dataset.endswith("+synth") else f"{p.dataset}+synth"
        if r < 0.30:
            neg = negate(hd, rng)
            if neg:
                out.append(SynthPair(p.premise, neg[0], "contradiction", name, f"negate:{neg[1]}"))
                negated += 1
        elif r < 0.75:
            swapped = swap_premise(pd, hd, pool, rng)
            if not swapped:
                continue
            if r < 0.40:
                neg = negate(hd, rng)
                if neg and neg[1] in _PLAIN_NEGATIONS | {"unnegate"}:  # "refused to V" says more than "not V"
                    out.append(SynthPair(swapped[0], neg[0], "entailment", name, "swap+negate"))
            else:
                out.append(SynthPair(swapped[0], p.hypothesis, "contradiction", name, f"swap:{swapped[1]}"))
        else:
            ref = refer_back(pd, hd, rng)
            if ref:
                out.append(SynthPair(ref, p.hypothesis, "entailment", name, "refer_back"))
    # the premise contradicts h, so it entails "not h"
    made = 0
    con = [p for p in con if p.dataset != "conjnli"]  # its contradictions drop a conjunct: "not h" is not entailed
    for p, hd in zip(con, nlp.pipe([p.hypothesis for p in con[:negated * 3]], batch_size=256)):
        if made >= negated:
            break
        neg = negate(hd, rng)
        if neg and neg[1] in _PLAIN_NEGATIONS | {"unnegate"}:
            out.append(SynthPair(p.premise, neg[0], "entailment", f"{p.dataset}+synth", f"negate_contradiction:{neg[1]}"))
            made += 1
    return out


def retrieved_neutrals(pairs: Sequence, encode, *, seed: int, n: int, max_cosine: float = 0.85,
                       min_cosine: float = 0.4) -> list[SynthPair]:
    """Hard neutral pairs, as a retriever finds them: a hypothesis with the nearest premise (MiniLM
    cosine in [`min_cosine`, `max_cosine`]) of another pair -> neutral.

    Fact-checking evidence is retrieved: most passages are on the claim's topic but about another
    event, place or detail. NLI captions (SNLI) call a different detail of the same scene a
    contradiction; this teaches that an on-topic passage about something else does not decide.
    `encode` maps texts to unit vectors (the packaged MiniLM).
    """
    import numpy as np

    rng = random.Random(seed)
    prems = list(dict.fromkeys(p.premise for p in pairs))
    own: dict[str, set[str]] = defaultdict(set)
    for p in pairs:
        own[p.hypothesis].add(p.premise)
    hyps = list(own)
    rng.shuffle(hyps)
    hyps = hyps[:n]
    if not hyps or len(prems) < 2:
        return []
    pv = np.asarray(encode(prems), dtype=np.float32)
    hv = np.asarray(encode(hyps), dtype=np.float32)
    name = {p.hypothesis: p.dataset for p in pairs}
    out = []
    for k in range(0, len(hyps), 512):
        sims = hv[k:k + 512] @ pv.T
        for h, row in zip(hyps[k:k + 512], sims):
            for j in np.argsort(-row)[:8]:
                if row[j] > max_cosine or prems[j] in own[h]:
                    continue  # a near-copy of its own premise may well entail it
                if row[j] >= min_cosine:
                    d = name[h]
                    out.append(SynthPair(prems[j], h, "neutral", d if d.endswith("+synth") else f"{d}+synth",
                                         "retrieved_neutral"))
                break
    return out

