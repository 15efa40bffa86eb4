-- Identity of the corpus as stored now, cheap to compute (corpus sources, not passages): passages
-- are only ever added with their source, so a changed count or id set invalidates the matrix.
SELECT count(*) AS n, coalesce(bit_xor(hash(source_id)), 0) AS ids_hash
FROM sources
WHERE provider = 'corpus';
