"""Main-text extraction quality of `extractors.articles.html_to_text` next to plain BeautifulSoup.

Two real, third-party sets in ../shared/data, read in place (never copied):

- aeb-scrapinghub (181 article pages + gold body): word 4-gram shingle precision/recall/F1, as the
  Article Extraction Benchmark defines it (per-page P and R averaged over pages, F1 = harmonic mean of
  the two means).
- trafilatura-eval, English pages only (`lang` starting with "en"): must_include / must_exclude
  segments, summed over pages: TP = include found, FN = include missing, FP = exclude found,
  TN = exclude absent; P = TP/(TP+FP), R = TP/(TP+FN).

The baseline measured in the same run is BeautifulSoup(html, "html.parser").get_text() with no
boilerplate removal. Prints one JSON object.

    .venv/bin/python bench/extraction.py [--limit N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACTLEDGER_SHARED", ROOT.parent / "shared"))
AEB = SHARED / "data" / "aeb-scrapinghub"
TEVAL = SHARED / "data" / "trafilatura-eval"

_TOKEN = re.compile(r"\w+", re.UNICODE)
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)


# ---------------------------------------------------------------- data


def read_pages(folder: Path) -> list[dict]:
    with open(folder / "pages.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def english(page: dict) -> bool:
    return (page.get("lang") or "").lower().replace("_", "-").split("-")[0] == "en"


def decode_html(raw: bytes) -> str:
    """Decode page bytes with the charset the page declares, else UTF-8, else cp1252."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace")
    candidates = []
    m = _CHARSET.search(raw[:8192])
    if m:
        candidates.append(m.group(1).decode("ascii", "ignore").lower())
    candidates += ["utf-8", "cp1252"]
    for enc in candidates:
        try:
            return raw.decode(enc)
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("utf-8", errors="replace")


def load_html(folder: Path, page: dict) -> str:
    return decode_html(gzip.decompress((folder / page["html_path"]).read_bytes()))


# ---------------------------------------------------------------- extractors


def ours(html: str, url: str | None) -> str:
    from extractors.articles import html_to_text

    return html_to_text(html, url=url)


def bs4_text(html: str, url: str | None = None) -> str:
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser").get_text()


# ---------------------------------------------------------------- AEB shingle metric


def shingles(text: str, n: int = 4) -> Counter:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i:i + n]) for i in range(max(0, len(tokens) - n + 1)))


def shingle_counts(gold: str, pred: str, n: int = 4) -> tuple[float, float, float]:
    """(tp, fp, fn) over multisets of word n-gram shingles, normalised by their sum."""
    g, p = shingles(gold, n), shingles(pred, n)
    tp = float(sum((g & p).values()))
    fp = float(sum((p - g).values()))
    fn = float(sum((g - p).values()))
    s = tp + fp + fn
    return (tp / s, fp / s, fn / s) if s else (0.0, 0.0, 0.0)


def aeb_score(pairs: Iterable[tuple[str, str]]) -> dict[str, float]:
    """Mean per-page precision/recall (pages with any predicted / gold shingle), F1 of the means."""
    precisions, recalls, exact, n = [], [], 0, 0
    for gold, pred in pairs:
        n += 1
        tp, fp, fn = shingle_counts(gold, pred)
        if tp == fp == fn == 0:  # nothing to get wrong
            precisions.append(1.0)
            recalls.append(1.0)
        else:
            if tp + fp > 0:
                precisions.append(tp / (tp + fp))
            if tp + fn > 0:
                recalls.append(tp / (tp + fn))
        exact += _TOKEN.findall(gold or "") == _TOKEN.findall(pred or "")
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    return {"precision": p, "recall": r, "f1": _f1(p, r), "accuracy": exact / n if n else 0.0}


# ---------------------------------------------------------------- trafilatura-eval segment metric


def segment_counts(text: str, must_include: list[str], must_exclude: list[str]) -> Counter:
    c: Counter = Counter()
    for seg in must_include or []:
        c["tp" if seg in text else "fn"] += 1
    for seg in must_exclude or []:
        c["fp" if seg in text else "tn"] += 1
    return c


def segment_score(counts: Counter) -> dict[str, float]:
    tp, fp, fn, tn = (counts[k] for k in ("tp", "fp", "fn", "tn"))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    total = tp + fp + fn + tn
    return {"precision": p, "recall": r, "f1": _f1(p, r), "accuracy": (tp + tn) / total if total else 0.0}


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


# ---------------------------------------------------------------- runs


Extractor = Callable[[str, "str | None"], str]


def run_aeb(pages: list[dict], extractors: dict[str, Extractor]) -> dict[str, dict[str, float]]:
    preds: dict[str, list[tuple[str, str]]] = {name: [] for name in extractors}
    for page in pages:
        html = load_html(AEB, page)
        for name, fn in extractors.items():
            preds[name].append((page["gold_text"], fn(html, page.get("url"))))
    return {name: aeb_score(pairs) for name, pairs in preds.items()}


def run_teval(pages: list[dict], extractors: dict[str, Extractor]) -> dict[str, dict[str, float]]:
    counts: dict[str, Counter] = {name: Counter() for name in extractors}
    for page in pages:
        html = load_html(TEVAL, page)
        for name, fn in extractors.items():
            counts[name] += segment_counts(fn(html, page.get("url")), page["must_include"], page["must_exclude"])
    return {name: segment_score(c) for name, c in counts.items()}


def check_reference() -> dict[str, float]:
    """Score the benchmark's stored trafilatura 2.0.0 output (published: P 0.938, R 0.978, F1 0.958)."""
    truth = json.loads((AEB / "original" / "ground-truth.json").read_text(encoding="utf-8"))
    stored = json.loads((AEB / "original" / "output" / "trafilatura.json").read_text(encoding="utf-8"))["output"]
    return aeb_score((v["articleBody"], stored.get(k, {}).get("articleBody", "")) for k, v in truth.items())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="only the first N pages of each set (0 = all)")
    args = ap.parse_args(argv)
    for folder in (AEB, TEVAL):
        if not (folder / "pages.jsonl").exists():
            print(f"Error: shared data missing ({folder})", file=sys.stderr)
            return 2
    sys.path.insert(0, str(ROOT))
    extractors: dict[str, Extractor] = {"ours": ours, "bs4": bs4_text}

    aeb_pages = read_pages(AEB)
    teval_pages = [p for p in read_pages(TEVAL) if english(p)]
    if args.limit:
        aeb_pages, teval_pages = aeb_pages[: args.limit], teval_pages[: args.limit]

    t0 = time.perf_counter()
    aeb = run_aeb(aeb_pages, extractors)
    t1 = time.perf_counter()
    tev = run_teval(teval_pages, extractors)
    t2 = time.perf_counter()
    ref = check_reference()

    from importlib.metadata import version

    out: dict[str, object] = {}
    for prefix, res in (("aeb", aeb), ("trafilatura_eval", tev)):
        for name, suffix in (("ours", ""), ("bs4", "_bs4")):
            for metric in ("f1", "precision", "recall", "accuracy"):
                out[f"{prefix}_{metric}{suffix}"] = round(res[name][metric], 4)
    out.update({
        "aeb_pages": len(aeb_pages),
        "trafilatura_eval_pages": len(teval_pages),
        "trafilatura_eval_lang": "en",
        "aeb_reference_stored_trafilatura_2_0_0": {k: round(v, 4) for k, v in ref.items()},
        "extractor": f"extractors.articles.html_to_text (trafilatura {version('trafilatura')})",
        "baseline": "BeautifulSoup(html, 'html.parser').get_text()",
        "aeb_seconds": round(t1 - t0, 2),
        "trafilatura_eval_seconds": round(t2 - t1, 2),
        "seconds": round(t2 - t0, 2),
    })
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
