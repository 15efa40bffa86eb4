-- Top corpus passages for a query by BM25 ($1 query text, $2 limit).
SELECT p.passage_id, score
FROM (
    SELECT passage_id, fts_main_passages.match_bm25(passage_id, $1) AS score
    FROM passages
) p
JOIN passages pp USING (passage_id)
JOIN sources s ON s.source_id = pp.source_id
WHERE score IS NOT NULL AND s.provider = 'corpus'
ORDER BY score DESC
LIMIT $2;
