-- Version 3: publication dates on sources, published fact-checks, source credibility.

ALTER TABLE sources ADD COLUMN published VARCHAR;

CREATE TABLE fact_checks (
    run_id            VARCHAR NOT NULL,
    claim_id          VARCHAR NOT NULL,
    fact_check_id     VARCHAR NOT NULL,
    provider          VARCHAR NOT NULL,
    publisher         VARCHAR,
    publisher_site    VARCHAR,
    review_url        VARCHAR NOT NULL,
    title             VARCHAR,
    textual_rating    VARCHAR,
    review_date       VARCHAR,
    claim_reviewed    VARCHAR,
    claimant          VARCHAR,
    claim_date        VARCHAR,
    language          VARCHAR,
    similarity        DOUBLE,
    fetched_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, claim_id, fact_check_id)
);

-- An editable, versioned list: one row per (domain, list_version). Loaded from a CSV.
CREATE TABLE source_credibility (
    domain            VARCHAR NOT NULL,
    category          VARCHAR NOT NULL,   -- primary | official | wire | outlet | reference | blog | social | known-misinformation
    rationale         VARCHAR,
    list_version      VARCHAR NOT NULL,
    loaded_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (domain, list_version)
);
