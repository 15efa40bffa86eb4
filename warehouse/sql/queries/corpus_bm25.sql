-- BM25 top hits of many queries in one pass ($1 query numbers, $2 query texts, $3 hits per query),
-- over the index PRAGMA create_fts_index built on `passage_search` (each corpus passage's title and
-- text; porter stemmer, English stopwords, k1 = 1.2, b = 0.75: the scores of
-- fts_main_passage_search.match_bm25, which re-plans per query and costs ~0.1 s a query over 130k
-- passages where this answers an article's claims together in about that). Ties by id.
WITH q AS (SELECT unnest($1::INTEGER[]) AS qid, unnest($2::VARCHAR[]) AS qtext),
tokens AS (SELECT DISTINCT qid, stem(unnest(fts_main_passage_search.tokenize(qtext)), 'porter') AS t FROM q),
qterms AS (SELECT tokens.qid, d.termid, d.df FROM tokens JOIN fts_main_passage_search.dict d ON d.term = tokens.t),
tf AS (SELECT qt.qid, t.docid, qt.termid, any_value(qt.df) AS df, count(*) AS tf
       FROM qterms qt JOIN fts_main_passage_search.terms t ON t.termid = qt.termid GROUP BY qt.qid, t.docid, qt.termid),
scored AS (
    SELECT tf.qid, tf.docid,
           sum(log(((st.num_docs - tf.df) + 0.5) / (tf.df + 0.5) + 1)
               * ((tf.tf * (1.2 + 1)) / (tf.tf + 1.2 * ((1 - 0.75) + 0.75 * (d.len / st.avgdl))))) AS score
    FROM tf JOIN fts_main_passage_search.docs d ON d.docid = tf.docid, fts_main_passage_search.stats st
    GROUP BY tf.qid, tf.docid)
SELECT s.qid, d.name AS passage_id, s.score
FROM scored s
JOIN fts_main_passage_search.docs d ON d.docid = s.docid  -- corpus passages only (passage_search_fill.sql)
QUALIFY row_number() OVER (PARTITION BY s.qid ORDER BY s.score DESC, d.name) <= $3
ORDER BY s.qid, s.score DESC;
