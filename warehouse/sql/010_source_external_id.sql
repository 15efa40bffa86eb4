-- Version 10: the id a source had where it came from: `corpus add` keeps each JSON Lines record's
-- "id" here (its URL, when the record has one, is the source's url), so corpus rows join back to
-- the input. NULL for fetched pages and for files without ids.
ALTER TABLE sources ADD COLUMN external_id VARCHAR;
