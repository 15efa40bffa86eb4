-- The tables an analysts' snapshot holds (warehouse.snapshot): every table of the warehouse's main
-- schema but the BM25 index's input (`passage_search`, a copy of each passage's text with its page
-- title, for `corpus` searches only). Views and macros are re-created in the snapshot from views.sql.
SELECT table_name
FROM duckdb_tables()
WHERE database_name = current_database()
  AND schema_name = 'main'
  AND NOT internal
  AND NOT temporary
  AND table_name <> 'passage_search'
ORDER BY table_name
