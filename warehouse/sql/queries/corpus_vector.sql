-- Top corpus passages by exact cosine similarity ($1 FLOAT[384] query vector, $2 limit).
SELECT p.passage_id, array_cosine_similarity(p.embedding, $1::FLOAT[384]) AS score
FROM passages p
JOIN sources s ON s.source_id = p.source_id
WHERE s.provider = 'corpus' AND p.embedding IS NOT NULL
ORDER BY score DESC
LIMIT $2;
