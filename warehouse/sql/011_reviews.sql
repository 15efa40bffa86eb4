-- Version 11: the review desk. A fact-checker confirms or overrules a machine verdict; every
-- decision is a new row, never updated or deleted (warehouse/reviews.py only inserts): a later
-- review of a claim supersedes the earlier ones, which stay. `review_seq` orders the reviews of a
-- claim (two reviews in the same microsecond still have an order).

CREATE SEQUENCE review_seq START 1;

CREATE TABLE reviews (
    review_id          VARCHAR PRIMARY KEY,      -- a uuid
    review_seq         BIGINT NOT NULL UNIQUE DEFAULT nextval('review_seq'),
    claim_id           VARCHAR NOT NULL,
    run_id             VARCHAR NOT NULL,         -- the run of the machine verdict reviewed
    machine_label      VARCHAR NOT NULL,         -- that verdict's label and confidence, as the reviewer saw them
    machine_confidence DOUBLE NOT NULL,
    label              VARCHAR NOT NULL CHECK (label IN ('supported', 'refuted', 'not_enough_evidence', 'conflicting')),
    note               VARCHAR NOT NULL,
    relied_passages    VARCHAR[] NOT NULL,       -- passage ids of that run's evidence the reviewer relied on
    rejected_passages  VARCHAR[] NOT NULL,       -- ... and rejected as irrelevant or wrong
    reviewer           VARCHAR NOT NULL,
    reviewed_at        TIMESTAMPTZ NOT NULL,
    supersedes         VARCHAR                   -- the claim's latest review when this one was written, if any
);

CREATE INDEX reviews_claim ON reviews (claim_id);
