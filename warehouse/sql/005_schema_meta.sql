-- Version 5: facts about the schema itself, e.g. the sha256 of the views.sql last applied, so a
-- writer re-creates the analyst views only when they changed (not on every connect).

CREATE TABLE schema_meta (
    key    VARCHAR PRIMARY KEY,
    value  VARCHAR NOT NULL
);
