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
    e.stance
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
SELECT c.claim_id, c.text AS claim_text, a.ref AS article_ref, v.label, v.confidence, v.run_id, v.checked_at
FROM verdicts v
JOIN claims c ON c.claim_id = v.claim_id
LEFT JOIN articles a ON a.article_id = c.article_id
QUALIFY row_number() OVER (PARTITION BY v.claim_id ORDER BY v.checked_at DESC, v.run_id DESC) = 1;
