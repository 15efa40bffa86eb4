-- FactLedger warehouse, version 1. Every fact row carries the run that first wrote it.

CREATE TABLE runs (
    run_id            VARCHAR PRIMARY KEY,      -- the Prefect flow-run id (or a uuid outside Prefect)
    flow_name         VARCHAR NOT NULL,
    started_at        TIMESTAMPTZ NOT NULL,
    finished_at       TIMESTAMPTZ,
    status            VARCHAR NOT NULL,         -- running | completed | failed
    error             VARCHAR,
    code_version      VARCHAR NOT NULL,
    embedder_name     VARCHAR,
    embedder_revision VARCHAR,
    stance_model      VARCHAR,
    stance_revision   VARCHAR,
    checkworthy_model VARCHAR,
    splitter_model    VARCHAR,
    providers         VARCHAR[],
    thresholds        JSON,
    params            JSON
);

CREATE TABLE articles (
    article_id        VARCHAR PRIMARY KEY,      -- hash of (ref, text sha256)
    ref               VARCHAR NOT NULL,         -- the path or URL given
    url               VARCHAR,                  -- final URL when fetched
    title             VARCHAR,
    published         VARCHAR,
    fetched_at        TIMESTAMPTZ NOT NULL,
    raw_sha256        VARCHAR NOT NULL,
    text_sha256       VARCHAR NOT NULL,
    extractor         VARCHAR NOT NULL,
    text              VARCHAR NOT NULL,
    run_id            VARCHAR NOT NULL
);

CREATE TABLE claims (
    claim_id          VARCHAR PRIMARY KEY,      -- hash of (article, span, text)
    article_id        VARCHAR,                  -- NULL for claims checked by hand
    text              VARCHAR NOT NULL,
    sentence_text     VARCHAR,
    span_start        INTEGER,
    span_end          INTEGER,
    checkworthiness   DOUBLE NOT NULL,
    claim_rank        INTEGER,
    run_id            VARCHAR NOT NULL
);

CREATE TABLE sources (
    source_id         VARCHAR PRIMARY KEY,      -- hash of (provider, url, raw sha256, status reason)
    provider          VARCHAR NOT NULL,
    url               VARCHAR NOT NULL,
    final_url         VARCHAR,
    title             VARCHAR,
    fetched_at        TIMESTAMPTZ NOT NULL,
    http_status       INTEGER,
    content_type      VARCHAR,
    raw_sha256        VARCHAR,
    text_sha256       VARCHAR,
    extractor         VARCHAR,
    extractor_version VARCHAR,
    fetch_status      VARCHAR NOT NULL,         -- ok | failed
    status_reason     VARCHAR NOT NULL,         -- ok, timeout, http_404, too_large, not_html, ...
    run_id            VARCHAR NOT NULL
);

CREATE TABLE passages (
    passage_id        VARCHAR PRIMARY KEY,      -- hash of (source, span, text sha256)
    source_id         VARCHAR NOT NULL,
    text              VARCHAR NOT NULL,
    span_start        INTEGER NOT NULL,         -- offsets in the source's extracted text
    span_end          INTEGER NOT NULL,
    sha256            VARCHAR NOT NULL,         -- sha256 of `text` (UTF-8)
    embedding         FLOAT[384],
    run_id            VARCHAR NOT NULL
);

CREATE TABLE evidence (
    run_id            VARCHAR NOT NULL,
    claim_id          VARCHAR NOT NULL,
    passage_id        VARCHAR NOT NULL,
    evidence_rank     INTEGER NOT NULL,
    similarity        DOUBLE NOT NULL,          -- cosine of claim and passage embeddings
    lexical           DOUBLE,                   -- BM25 (corpus) or term overlap (web)
    p_support         DOUBLE NOT NULL,
    p_refute          DOUBLE NOT NULL,
    p_neutral         DOUBLE NOT NULL,
    stance            VARCHAR NOT NULL,         -- supports | refutes | neutral
    PRIMARY KEY (run_id, claim_id, passage_id)
);

CREATE TABLE verdicts (
    run_id            VARCHAR NOT NULL,
    claim_id          VARCHAR NOT NULL,
    label             VARCHAR NOT NULL,         -- supported | refuted | not_enough_evidence | conflicting
    confidence        DOUBLE NOT NULL,
    rationale         VARCHAR,
    checked_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, claim_id)
);

CREATE INDEX passages_source ON passages (source_id);
CREATE INDEX claims_article ON claims (article_id);
