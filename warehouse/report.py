"""A self-contained HTML report of one article: claims highlighted by verdict, evidence cited."""

from __future__ import annotations

from html import escape

import duckdb

from factledger.errors import InputError
from warehouse.db import sql_literal

__all__ = ["article_report"]

COLOURS = {"supported": "#cdeccd", "refuted": "#f6c6c6", "conflicting": "#fbe0b0", "not_enough_evidence": "#e4e4e4"}
_CSS = """body{font:16px/1.55 Georgia,serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}.meta{color:#666;font:13px sans-serif}
.article{white-space:pre-wrap;border:1px solid #ddd;padding:1rem;border-radius:6px;background:#fff}
mark{padding:0 2px;border-radius:3px}mark a{color:inherit;text-decoration:none}
.claim{border-left:6px solid #999;padding:.5rem 1rem;margin:1rem 0;background:#fafafa}
.label{font:bold 13px sans-serif;text-transform:uppercase;letter-spacing:.03em}
.ev{font-size:14px;margin:.4rem 0 .4rem 1rem}.hash{font:11px monospace;color:#777;word-break:break-all}
.legend span{display:inline-block;padding:0 .5rem;margin-right:.5rem;border-radius:3px;font:13px sans-serif}"""


def article_report(con: duckdb.DuckDBPyConnection, article: str) -> str:
    """HTML for the article whose ref, URL or id is `article`, with its claims' latest verdicts."""
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
    claims = con.execute(
        f"""SELECT c.claim_id, c.text, c.span_start, c.span_end, lv.label, lv.confidence, lv.run_id, lv.checked_at
            FROM claims c JOIN latest_verdicts lv USING (claim_id)
            WHERE c.article_id = {sql_literal(article_id)} ORDER BY c.claim_rank""",
    ).fetchall()
    evidence = {}
    for cid, *_rest, run_id, _ in claims:
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
    parts, pos = [], 0
    for (start, end), members in sorted(spans.items()):
        if start < pos:
            continue
        _n, first_cid, first_label = members[0]
        labels = ", ".join(sorted({lab.replace("_", " ") for _, _, lab in members}))
        links = "".join(f'<sup><a href="#c-{cid}" style="background:{COLOURS[lab]}">{n}</a></sup>'
                        for n, cid, lab in members)
        parts.append(escape(text[pos:start]))
        parts.append(f'<mark style="background:{COLOURS[first_label]}" title="{escape(labels)}">'
                     f'<a href="#c-{first_cid}">{escape(text[start:end])}</a></mark>{links}')
        pos = end
    parts.append(escape(text[pos:]))

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
    for number, (cid, ctext, _s, _e, label, conf, run_id, checked_at) in enumerate(claims, 1):
        out.append(f'<div class="claim" id="c-{cid}" style="border-color:{COLOURS[label]}">'
                   f'<div class="label">{number}. {escape(label.replace("_", " "))} · confidence {conf:.2f}</div>'
                   f"<p>{escape(ctext)}</p>")
        for publisher, rating, review_url, review_date in fact_checks[cid]:
            out.append(f'<div class="ev">Published fact-check: <b>{escape(publisher or "?")}</b> rated it '
                       f'<b>{escape(rating or "?")}</b> ({escape(review_date or "")}) '
                       f'<a href="{escape(review_url)}">{escape(review_url)}</a></div>')
        for rank, src, ptext, psha, fetched, sim, stance in evidence[cid]:
            out.append(f'<div class="ev">[{rank}] <i>{escape(stance)}</i>, similarity {sim:.2f}: '
                       f'“{escape(ptext)}” — <a href="{escape(src)}">{escape(src)}</a><br>'
                       f'<span class="hash">fetched {escape(str(fetched))} · passage sha256 {psha}</span></div>')
        out.append(f'<div class="hash">run {escape(run_id)} · checked {escape(str(checked_at))}</div></div>')
    out.append("<p class=\"meta\">Generated by FactLedger. Verdicts are machine drafts for human review.</p>"
               "</body></html>")
    return "\n".join(out)
