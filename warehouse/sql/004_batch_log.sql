-- Version 4: what each batch run did with every candidate article it found.

CREATE TABLE batch_items (
    run_id            VARCHAR NOT NULL,       -- the batch flow run
    url               VARCHAR NOT NULL,       -- the article URL (or path) found in a feed or list
    origin            VARCHAR,                -- the feed or list it came from
    status            VARCHAR NOT NULL,       -- checked | seen_before | duplicate_content | failed
    reason            VARCHAR,                -- named reason for failed items (http_404, timeout, ...)
    article_id        VARCHAR,
    child_run_id      VARCHAR,                -- the check-article run that processed it
    recorded_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, url)
);
