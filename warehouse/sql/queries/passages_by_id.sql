-- Passages with their sources ($1 list of passage ids). Embeddings come from the in-memory
-- corpus matrix: reading the FLOAT[384] column here made each lookup scan every vector.
SELECT p.passage_id, p.source_id, p.text, p.span_start, p.span_end, p.context,
       s.provider, s.url, s.final_url, s.title, s.fetched_at, s.http_status, s.content_type,
       s.raw_sha256, s.text_sha256, s.extractor, s.extractor_version, s.fetch_status, s.status_reason,
       s.external_id
FROM passages p JOIN sources s ON s.source_id = p.source_id
WHERE p.passage_id IN (SELECT unnest($1::VARCHAR[]));
