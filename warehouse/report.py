"""A self-contained HTML report of one article: claims highlighted by verdict, evidence cited."""

from __future__ import annotations

from html import escape

import duckdb

from factledger.errors import InputError
from warehouse.db import sql_literal

__all__ = ["article_report", "hidden_lines", "visible_text"]

COLOURS = {"supported": "#cdeccd", "refuted": "#f6c6c6", "conflicting": "#fbe0b0", "not_enough_evidence": "#e4e4e4"}
_CSS = """body{font:16px/1.55 Georgia,serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}.meta{color:#666;font:13px sans-serif}
.article{white-space:pre-wrap;border:1px solid #ddd;padding:1rem;border-radius:6px;background:#fff}
mark{padding:0 2px;border-radius:3px}mark a{color:inherit;text-decoration:none}
.claim{border-left:6px solid #999;padding:.5rem 1rem;margin:1rem 0;background:#fafafa}
.label{font:bold 13px sans-serif;text-transform:uppercase;letter-spacing:.03em}.why{font-size:14px;color:#444}
.ev{font-size:14px;margin:.4rem 0 .4rem 1rem}.hash{font:11px monospace;color:#777;word-break:break-all}
.legend span{display:inline-block;padding:0 .5rem;margin-right:.5rem;border-radius:3px;font:13px sans-serif}"""


def article_report(con: duckdb.DuckDBPyConnection, article: str) -> str:
    """HTML for the article whose ref, URL or id is `article`, with the decision that stands on
    each of its claims (`verdicts_current`: a reviewer's, else the machine's latest verdict)."""
    # Values written into the SQL (`sql_literal`), not bound: a bound parameter makes DuckDB import
    # pandas, which a report never uses, and which would double the command's start.
    lit = sql_literal(article)
    row = con.execute(
        "SELECT article_id, ref, url, title, published, fetched_at, text, text_sha256 FROM articles "
        f"WHERE ref = {lit} OR url = {lit} OR article_id = {lit} ORDER BY fetched_at DESC LIMIT 1",
    ).fetchone()
    if not row:
        raise InputError(f"no stored article with this ref, URL or id: {article}")
    article_id, ref, url, title, published, fetched_at, text, text_sha = row
    # The decision that stands (verdicts_current): a reviewer's, else the machine's; the rationale,
    # flag and evidence are those of the machine verdict decided on (the one reviewed).
    claims = con.execute(
        f"""SELECT c.claim_id, c.text, c.span_start, c.span_end, vc.label, v.confidence, vc.run_id, v.checked_at,
                   v.rationale, v.needs_review
            FROM claims c JOIN verdicts_current vc USING (claim_id)
            JOIN verdicts v ON v.run_id = vc.run_id AND v.claim_id = vc.claim_id
            WHERE c.article_id = {sql_literal(article_id)} ORDER BY c.claim_rank""",
    ).fetchall()
    decisions = {r[0]: r[1:] for r in con.execute(
        f"""SELECT vc.claim_id, vc.decided_by, vc.machine_label, vc.reviewer, vc.reviewed_at, vc.note,
                  vc.rechecked_since_review, vc.machine_run_id
           FROM verdicts_current vc JOIN claims c USING (claim_id)
           WHERE c.article_id = {sql_literal(article_id)}""").fetchall()}
    evidence = {}
    for cid, *_rest, run_id, _checked, _why, _review in claims:
        evidence[cid] = con.execute(
            f"""SELECT ve.evidence_rank, ve.source_url, ve.passage_text, ve.passage_sha256, ve.fetched_at,
                       ve.similarity, ve.stance
                FROM verdict_evidence ve WHERE ve.claim_id = {sql_literal(cid)} AND ve.run_id = {sql_literal(run_id)}
                ORDER BY ve.evidence_rank""",
        ).fetchall()
    fact_checks = {cid: con.execute(
        "SELECT DISTINCT publisher, textual_rating, review_url, review_date FROM fact_checks "
        f"WHERE claim_id = {sql_literal(cid)}").fetchall() for cid, *_ in claims}

    # Highlight each sentence span once; several atomic claims may share one sentence, so the
    # highlight carries one numbered link per claim.
    spans: dict[tuple[int, int], list[tuple[int, str, str]]] = {}
    for number, (cid, _t, start, end, label, *_) in enumerate(claims, 1):
        if start is not None:
            spans.setdefault((start, end), []).append((number, cid, label))
    hidden = hidden_lines(text, title, list(spans))
    parts, pos = [], 0
    for (start, end), members in sorted(spans.items()):
        if start < pos:
            continue
        _n, first_cid, first_label = members[0]
        labels = ", ".join(sorted({lab.replace("_", " ") for _, _, lab in members}))
        links = "".join(f'<sup><a href="#c-{cid}" style="background:{COLOURS[lab]}">{n}</a></sup>'
                        for n, cid, lab in members)
        parts.append(_shown(text, pos, start, hidden))
        parts.append(f'<mark style="background:{COLOURS[first_label]}" title="{escape(labels)}">'
                     f'<a href="#c-{first_cid}">{escape(text[start:end])}</a></mark>{links}')
        pos = end
    parts.append(_shown(text, pos, len(text), hidden))

    out = [f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>FactLedger report: "
           f"{escape(title or ref)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{escape(title or ref)}</h1>",
           f"<p class=\"meta\">Source: {escape(url or ref)} · fetched {escape(str(fetched_at))}"
           f"{' · published ' + escape(published) if published else ''} · text sha256 "
           f"<span class=\"hash\">{text_sha}</span></p>",
           "<p class=\"legend\">" + "".join(f'<span style="background:{c}">{k.replace("_", " ")}</span>'
                                           for k, c in COLOURS.items()) + "</p>",
           f"<div class=\"article\">{''.join(parts)}</div>",
           f"<h2>{len(claims)} claims</h2>"]
    for number, (cid, ctext, _s, _e, label, conf, run_id, checked_at, why, review) in enumerate(claims, 1):
        decided_by, machine_label, reviewer, reviewed_at, note, rechecked, latest_run = decisions[cid]
        if decided_by == "reviewer":
            how = "confirmed" if label == machine_label else "overruled"
            head = (f'{number}. {escape(label.replace("_", " "))} · decided by reviewer {escape(reviewer)} '
                    f'({escape(str(reviewed_at))}) · {how} the model\'s {escape(machine_label.replace("_", " "))}')
            person = f'<p class="why">Reviewer\'s note: {escape(note or "")}</p>'
            if rechecked:
                person += (f'<p class="why">Re-checked since the review (run {escape(latest_run)}): not reviewed '
                           f'again yet.</p>')
            machine = f"The model's verdict (confidence {conf:.2f}). Why: "
        else:
            head = (f'{number}. {escape(label.replace("_", " "))} · decided by the model · confidence {conf:.2f} · '
                    f'needs review: {"yes" if review else "no"}')
            person, machine = "", "Why: "
        out.append(f'<div class="claim" id="c-{cid}" style="border-color:{COLOURS[label]}">'
                   f'<div class="label">{head}</div>'
                   f"<p>{escape(ctext)}</p>{person}"
                   f'<p class="why">{machine}{escape(why or "")}</p>')
        for publisher, rating, review_url, review_date in fact_checks[cid]:
            out.append(f'<div class="ev">Published fact-check: <b>{escape(publisher or "?")}</b> rated it '
                       f'<b>{escape(rating or "?")}</b> ({escape(review_date or "")}) '
                       f'<a href="{escape(review_url)}">{escape(review_url)}</a></div>')
        for rank, src, ptext, psha, fetched, sim, stance in evidence[cid]:
            out.append(f'<div class="ev">#{rank} <i>{escape(stance)}</i>, similarity {sim:.2f}: '
                       f'“{escape(ptext)}” — <a href="{escape(src)}">{escape(src)}</a><br>'
                       f'<span class="hash">fetched {escape(str(fetched))} · passage sha256 {psha}</span></div>')
        out.append(f'<div class="hash">run {escape(run_id)} · checked {escape(str(checked_at))}</div></div>')
    out.append("<p class=\"meta\">Generated by FactLedger. Verdicts decided by the model are machine drafts for "
               "human review; those decided by a reviewer were confirmed or overruled by a person.</p>"
               "</body></html>")
    return "\n".join(out)


def hidden_lines(text: str, title: str | None, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(start, end) of the lines of `text` the report leaves out, each with the blank lines after
    it: page chrome ("Scroll to top", share and cookie buttons: `is_page_chrome`) and a first line
    that repeats the title shown above it. A line holding part of a claim is always shown."""
    from extractors.sentences import is_page_chrome, iter_lines

    hidden = []
    first = True
    for offset, line in iter_lines(text):
        if not line.strip():
            continue
        end = offset + len(line)
        repeats_title = first and title is not None and _words(line) == _words(title)
        first = False
        if (repeats_title or is_page_chrome(line)) and not any(s < end and offset < e for s, e in spans):
            while end < len(text) and text[end] in "\r\n":
                end += 1
            hidden.append((offset, end))
    return hidden


def _words(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.lower()).split()


def visible_text(text: str, start: int, end: int, hidden: list[tuple[int, int]]) -> str:
    """`text[start:end]` without the hidden lines (`hidden_lines`)."""
    out, pos = [], start
    for h_start, h_end in hidden:
        if h_end <= pos or h_start >= end:
            continue
        out.append(text[pos:max(pos, h_start)])
        pos = max(pos, min(h_end, end))
    out.append(text[pos:end])
    return "".join(out).rstrip() if end == len(text) else "".join(out)


def _shown(text: str, start: int, end: int, hidden: list[tuple[int, int]]) -> str:
    """`visible_text`, escaped for HTML."""
    return escape(visible_text(text, start, end, hidden))
