-- Passages with their sources and embeddings ($1 list of passage ids).
SELECT p.passage_id, p.source_id, p.text, p.span_start, p.span_end, p.embedding,
       s.provider, s.url, s.final_url, s.title, s.fetched_at, s.http_status, s.content_type,
       s.raw_sha256, s.text_sha256, s.extractor, s.extractor_version, s.fetch_status, s.status_reason
FROM passages p JOIN sources s ON s.source_id = p.source_id
WHERE p.passage_id IN (SELECT unnest($1::VARCHAR[]));
