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

-- Every verdict ever given to each claim, oldest first: re-checks add rows, never overwrite.
CREATE OR REPLACE VIEW verdict_history AS
-- v.claim_id (not c.claim_id, equal by the join) lets a filter on claim_id reach the window's partition.
SELECT v.claim_id, c.text AS claim_text, a.ref AS article_ref, v.checked_at, v.run_id, r.flow_name,
       v.label, v.confidence,
       lag(v.label) OVER (PARTITION BY v.claim_id ORDER BY v.checked_at, v.run_id) AS previous_label,
       v.label IS DISTINCT FROM lag(v.label) OVER (PARTITION BY v.claim_id ORDER BY v.checked_at, v.run_id)
           AND lag(v.label) OVER (PARTITION BY v.claim_id ORDER BY v.checked_at, v.run_id) IS NOT NULL AS label_changed
FROM verdicts v
JOIN claims c ON c.claim_id = v.claim_id
LEFT JOIN articles a ON a.article_id = c.article_id
LEFT JOIN runs r ON r.run_id = v.run_id;

-- The verdict each claim had at a moment: SELECT * FROM verdicts_as_of(TIMESTAMP '2026-03-03 23:59:59').
CREATE OR REPLACE MACRO verdicts_as_of(ts) AS TABLE
SELECT c.claim_id, c.text AS claim_text, a.ref AS article_ref, v.label, v.confidence, v.run_id, v.checked_at
FROM verdicts v
JOIN claims c ON c.claim_id = v.claim_id
LEFT JOIN articles a ON a.article_id = c.article_id
WHERE v.checked_at <= ts
QUALIFY row_number() OVER (PARTITION BY v.claim_id ORDER BY v.checked_at DESC, v.run_id DESC) = 1;

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
