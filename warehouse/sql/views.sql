-- Analyst views, re-created after every migration. Column names here are a public contract.

-- The most recently loaded version of the credibility list.
CREATE OR REPLACE VIEW current_source_credibility AS
SELECT domain, category, rationale, list_version, loaded_at
FROM source_credibility
WHERE list_version = (SELECT list_version FROM source_credibility ORDER BY loaded_at DESC LIMIT 1);

-- Each source with its domain and the credibility category of that domain (or a parent domain).
CREATE OR REPLACE VIEW source_domains AS
SELECT s.*, d.domain,
       (SELECT c.category FROM current_source_credibility c
        WHERE d.domain = c.domain OR d.domain LIKE '%.' || c.domain
        ORDER BY length(c.domain) DESC LIMIT 1) AS credibility
FROM sources s,
     LATERAL (SELECT regexp_replace(lower(regexp_extract(s.url, '^[a-z]+://([^/:?#]+)', 1)), '^www\.', '') AS domain) d;

-- One row per verdict and piece of evidence: the claim, the verdict, the passage, its source and hash.
-- The columns of this view are a contract: queries written against it keep working.
CREATE OR REPLACE VIEW verdict_evidence AS
SELECT
    v.run_id,
    a.ref                AS article_ref,
    c.claim_id,
    c.text               AS claim_text,
    v.label,
    v.confidence,
    e.evidence_rank,
    s.url                AS source_url,
    p.text               AS passage_text,
    p.sha256             AS passage_sha256,
    s.fetched_at,
    e.similarity,
    e.stance,
    c.input_id,
    s.external_id        AS source_external_id
FROM verdicts v
JOIN claims c        ON c.claim_id = v.claim_id
LEFT JOIN articles a ON a.article_id = c.article_id
JOIN evidence e      ON e.run_id = v.run_id AND e.claim_id = v.claim_id
JOIN passages p      ON p.passage_id = e.passage_id
JOIN sources s       ON s.source_id = p.source_id;

-- The same rows with everything needed to audit them: models, thresholds, hashes, HTTP facts.
CREATE OR REPLACE VIEW verdict_provenance AS
SELECT
    ve.*,
    s.provider, s.final_url, s.http_status, s.content_type, s.raw_sha256 AS source_raw_sha256,
    s.extractor, s.extractor_version,
    e.p_support, e.p_refute, e.p_neutral, e.lexical,
    r.started_at AS run_started_at, r.code_version, r.embedder_name, r.embedder_revision,
    r.stance_model, r.stance_revision, r.checkworthy_model, r.thresholds,
    sd.domain AS source_domain, sd.credibility, s.published AS source_published
FROM verdict_evidence ve
JOIN evidence e ON e.run_id = ve.run_id AND e.claim_id = ve.claim_id AND e.evidence_rank = ve.evidence_rank
JOIN passages p ON p.passage_id = e.passage_id
JOIN sources s  ON s.source_id = p.source_id
JOIN source_domains sd ON sd.source_id = s.source_id
JOIN runs r     ON r.run_id = ve.run_id;

-- The most recent verdict for each claim.
CREATE OR REPLACE VIEW latest_verdicts AS
-- The latest by (checked_at, run_id), read from claim_latest, which the store keeps (one row per
-- claim) rather than aggregated from every verdict at query time (bench/warehouse.py).
SELECT v.claim_id, c.text AS claim_text, a.ref AS article_ref, v.label, v.confidence, v.run_id, v.checked_at,
       c.input_id
FROM claim_latest v
JOIN claims c ON c.claim_id = v.claim_id
LEFT JOIN articles a ON a.article_id = c.article_id;

-- Every decision on each claim, oldest first: the machine's verdicts (decided_by 'model', one per
-- run; re-checks add rows, never overwrite) and the reviewers' (decided_by 'reviewer', flow_name
-- 'review', checked_at the review's time, run_id the run whose verdict was reviewed, confidence NULL).
CREATE OR REPLACE VIEW verdict_history AS
-- d.claim_id (not c.claim_id, equal by the join) lets a filter on claim_id reach the window's partition.
WITH decisions AS (
    SELECT v.claim_id, v.checked_at, v.run_id, r.flow_name, v.label, v.confidence, 'model' AS decided_by,
           NULL::VARCHAR AS reviewer, NULL::VARCHAR AS note, NULL::VARCHAR AS review_id, NULL::BIGINT AS review_seq
    FROM verdicts v LEFT JOIN runs r ON r.run_id = v.run_id
    UNION ALL
    SELECT rv.claim_id, rv.reviewed_at, rv.run_id, 'review', rv.label, NULL::DOUBLE, 'reviewer',
           rv.reviewer, rv.note, rv.review_id, rv.review_seq
    FROM reviews rv
)
SELECT d.claim_id, c.text AS claim_text, a.ref AS article_ref, d.checked_at, d.run_id, d.flow_name,
       d.label, d.confidence,
       lag(d.label) OVER hw AS previous_label,
       d.label IS DISTINCT FROM lag(d.label) OVER hw AND lag(d.label) OVER hw IS NOT NULL AS label_changed,
       d.decided_by, d.reviewer, d.note, d.review_id
FROM decisions d
JOIN claims c ON c.claim_id = d.claim_id
LEFT JOIN articles a ON a.article_id = c.article_id
WINDOW hw AS (PARTITION BY d.claim_id ORDER BY d.checked_at, d.review_seq NULLS FIRST, d.run_id);

-- The decision each claim had at a moment: SELECT * FROM verdicts_as_of(TIMESTAMP '2026-03-03 23:59:59'). The latest review made by then, else the latest machine verdict given by then (decided_by says which; confidence is the machine's, NULL when a reviewer decided; run_id the latest machine verdict's run).
CREATE OR REPLACE MACRO verdicts_as_of(ts) AS TABLE
WITH m AS (
    SELECT v.claim_id, v.label, v.confidence, v.run_id, v.checked_at
    FROM verdicts v
    WHERE v.checked_at <= ts
    QUALIFY row_number() OVER (PARTITION BY v.claim_id ORDER BY v.checked_at DESC, v.run_id DESC) = 1
), h AS (
    SELECT claim_id, label, reviewer, review_id
    FROM reviews
    WHERE reviewed_at <= ts
    QUALIFY row_number() OVER (PARTITION BY claim_id ORDER BY review_seq DESC) = 1
)
SELECT c.claim_id, c.text AS claim_text, a.ref AS article_ref, coalesce(h.label, m.label) AS label,
       CASE WHEN h.review_id IS NULL THEN m.confidence END AS confidence, m.run_id, m.checked_at,
       CASE WHEN h.review_id IS NULL THEN 'model' ELSE 'reviewer' END AS decided_by, h.reviewer, h.review_id,
       m.label AS machine_label
FROM m
JOIN claims c ON c.claim_id = m.claim_id
LEFT JOIN articles a ON a.article_id = c.article_id
LEFT JOIN h ON h.claim_id = m.claim_id;

-- Every review, oldest first: the verdict it reviewed (run_id, machine_label, machine_confidence), the reviewer's label, note and passages, and whether a later review of the claim superseded it (superseded_by; is_current for the claim's latest). Reviews are never updated or deleted.
CREATE OR REPLACE VIEW review_history AS
SELECT r.review_id, r.review_seq, r.claim_id, c.text AS claim_text, a.ref AS article_ref, r.run_id,
       r.machine_label, r.machine_confidence, r.label, r.label <> r.machine_label AS overruled, r.note,
       r.relied_passages, r.rejected_passages, r.reviewer, r.reviewed_at, r.supersedes,
       lead(r.review_id) OVER (PARTITION BY r.claim_id ORDER BY r.review_seq) AS superseded_by,
       lead(r.review_id) OVER (PARTITION BY r.claim_id ORDER BY r.review_seq) IS NULL AS is_current
FROM reviews r
JOIN claims c ON c.claim_id = r.claim_id
LEFT JOIN articles a ON a.article_id = c.article_id;

-- The decision that stands for each claim: its latest review where a person reviewed it (decided_by 'reviewer'), otherwise the machine's latest verdict (decided_by 'model'). A re-check after a review does not undo the person's decision (rechecked_since_review says it happened; the new verdict is in machine_label). run_id is the run of the verdict decided on (the reviewed one, or the latest); confidence is the machine's, NULL when a reviewer decided.
CREATE OR REPLACE VIEW verdicts_current AS
WITH h AS (
    SELECT * FROM reviews QUALIFY row_number() OVER (PARTITION BY claim_id ORDER BY review_seq DESC) = 1
)
SELECT lv.claim_id, c.text AS claim_text, a.ref AS article_ref, c.input_id,
       coalesce(h.label, lv.label) AS label,
       CASE WHEN h.review_id IS NULL THEN 'model' ELSE 'reviewer' END AS decided_by,
       CASE WHEN h.review_id IS NULL THEN lv.confidence END AS confidence,
       coalesce(h.run_id, lv.run_id) AS run_id,
       lv.label AS machine_label, lv.confidence AS machine_confidence, lv.run_id AS machine_run_id,
       lv.checked_at, h.review_id, h.reviewer, h.note, h.reviewed_at,
       h.review_id IS NOT NULL AND h.run_id <> lv.run_id AS rechecked_since_review
FROM claim_latest lv
JOIN claims c ON c.claim_id = lv.claim_id
LEFT JOIN articles a ON a.article_id = c.article_id
LEFT JOIN h ON h.claim_id = lv.claim_id;

-- The verdict a published fact-check's textual rating states, where it states one plainly: 'refuted' (false, fake, incorrect, pants on fire, ...), 'supported' (true, correct, accurate), NULL for mixed or unclear ratings (half true, misleading, missing context, ...).
CREATE OR REPLACE MACRO rating_label(rating) AS
CASE WHEN rating IS NULL THEN NULL
     WHEN regexp_matches(lower(rating), '\b(half|partly|partially|mixed|mixture|misleading|missing context|unproven|unverified|satire)\b') THEN NULL
     WHEN regexp_matches(lower(rating), '\b(false|fake|incorrect|wrong|untrue|not true|pants on fire|hoax|fabricated|baseless)\b') THEN 'refuted'
     WHEN regexp_matches(lower(rating), '\b(true|correct|accurate|confirmed)\b') THEN 'supported'
END;

-- Claims for a person to look at, most urgent first (queue_rank 1): the latest machine verdict, not yet reviewed, that needs review (confidence below the threshold), is conflicting, or disagrees with a published fact-check (rating_label of a stored fact-check differs from it); reasons lists which. priority = checkworthiness x uncertainty x recency, where uncertainty = 1 - confidence and recency = 0.5 ^ (days since the verdict / 7), halving every week. A review of the latest verdict takes the claim off the queue; a re-check that is flagged again puts it back.
CREATE OR REPLACE VIEW review_queue AS
WITH flagged AS (
    SELECT lv.claim_id, c.text AS claim_text, a.ref AS article_ref, c.input_id, lv.label, lv.confidence,
           lv.run_id, lv.checked_at, c.checkworthiness, v.needs_review,
           (SELECT string_agg(DISTINCT f.textual_rating, '; ' ORDER BY f.textual_rating) FROM fact_checks f
            WHERE f.claim_id = lv.claim_id) AS fact_check_ratings,
           [x FOR x IN [CASE WHEN v.needs_review THEN 'needs_review' END,
                        CASE WHEN lv.label = 'conflicting' THEN 'conflicting' END,
                        CASE WHEN EXISTS (SELECT 1 FROM fact_checks f WHERE f.claim_id = lv.claim_id
                                          AND rating_label(f.textual_rating) <> lv.label)
                             THEN 'disagrees_with_fact_check' END] IF x IS NOT NULL] AS reasons,
           c.checkworthiness * (1 - lv.confidence)
               * pow(0.5, (epoch(now()) - epoch(lv.checked_at)) / 86400.0 / 7) AS priority
    FROM claim_latest lv
    JOIN verdicts v ON v.run_id = lv.run_id AND v.claim_id = lv.claim_id
    JOIN claims c ON c.claim_id = lv.claim_id
    LEFT JOIN articles a ON a.article_id = c.article_id
    WHERE NOT EXISTS (SELECT 1 FROM reviews r WHERE r.claim_id = lv.claim_id AND r.run_id = lv.run_id)
)
SELECT row_number() OVER (ORDER BY priority DESC, claim_id) AS queue_rank, *
FROM flagged
WHERE len(reasons) > 0;

-- Claims found in each article, with their latest verdicts.
CREATE OR REPLACE VIEW claims_per_article AS
SELECT a.article_id, a.ref AS article_ref, a.title, a.published, count(DISTINCT c.claim_id) AS claims,
       count(DISTINCT c.claim_id) FILTER (WHERE lv.label = 'supported') AS supported,
       count(DISTINCT c.claim_id) FILTER (WHERE lv.label = 'refuted') AS refuted,
       count(DISTINCT c.claim_id) FILTER (WHERE lv.label = 'conflicting') AS conflicting,
       count(DISTINCT c.claim_id) FILTER (WHERE lv.label = 'not_enough_evidence') AS not_enough_evidence
FROM articles a
LEFT JOIN claims c ON c.article_id = a.article_id
LEFT JOIN latest_verdicts lv ON lv.claim_id = c.claim_id
GROUP BY ALL;

-- Sources grouped by domain, with the credibility category and fetch outcomes.
CREATE OR REPLACE VIEW sources_by_domain AS
SELECT domain, any_value(credibility) AS credibility, count(*) AS fetches,
       count(*) FILTER (WHERE fetch_status = 'ok') AS ok, count(*) FILTER (WHERE fetch_status <> 'ok') AS failed,
       count(DISTINCT url) AS urls, max(fetched_at) AS last_fetched_at
FROM source_domains
GROUP BY domain;

-- A URL fetched more than once: did its content change, or is it gone?
CREATE OR REPLACE VIEW source_changes AS
SELECT url, fetched_at, fetch_status, status_reason, raw_sha256, text_sha256,
       lag(text_sha256) OVER w AS previous_text_sha256,
       CASE WHEN fetch_status <> 'ok' AND lag(fetch_status) OVER w = 'ok' THEN 'gone'
            WHEN lag(text_sha256) OVER w IS NOT NULL AND text_sha256 IS DISTINCT FROM lag(text_sha256) OVER w THEN 'changed'
            WHEN lag(text_sha256) OVER w IS NULL THEN 'first_seen'
            ELSE 'unchanged' END AS change
FROM sources
WHERE provider <> 'corpus'
WINDOW w AS (PARTITION BY url ORDER BY fetched_at);

-- One line per run: what it was, how it ended, how many verdicts of each kind.
CREATE OR REPLACE VIEW run_summary AS
SELECT r.run_id, r.flow_name, r.started_at, r.finished_at, r.status, r.error,
       date_diff('millisecond', r.started_at, r.finished_at) / 1000.0 AS seconds,
       count(v.claim_id) AS verdicts,
       count(v.claim_id) FILTER (WHERE v.label = 'supported') AS supported,
       count(v.claim_id) FILTER (WHERE v.label = 'refuted') AS refuted,
       count(v.claim_id) FILTER (WHERE v.label = 'conflicting') AS conflicting,
       count(v.claim_id) FILTER (WHERE v.label = 'not_enough_evidence') AS not_enough_evidence,
       r.embedder_name, r.stance_model, r.stance_revision, r.checkworthy_model
FROM runs r LEFT JOIN verdicts v ON v.run_id = r.run_id
GROUP BY ALL;
