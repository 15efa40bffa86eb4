-- Every corpus passage with its embedding, loaded once per process for exact vector search
-- (CorpusProvider keeps the matrix in memory; a query is one matrix product).
SELECT p.passage_id, p.embedding
FROM passages p
JOIN sources s ON s.source_id = p.source_id
WHERE s.provider = 'corpus' AND p.embedding IS NOT NULL
ORDER BY p.passage_id;
