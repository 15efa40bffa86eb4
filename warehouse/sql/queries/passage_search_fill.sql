-- The text BM25 indexes, per corpus passage: its page title (when it has one), a full stop, its text.
DELETE FROM passage_search;
INSERT INTO passage_search
SELECT p.passage_id, CASE WHEN coalesce(trim(s.title), '') = '' THEN p.text ELSE trim(s.title) || '. ' || p.text END
FROM passages p
JOIN sources s ON s.source_id = p.source_id
WHERE s.provider = 'corpus';
