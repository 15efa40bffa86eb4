-- Version 7: what the BM25 index covers. Each corpus passage's text with its page title in front,
-- so a passage that names its subject only on the page ("It was first observed in 1958" on the page
-- "Keeling Curve") is found by that subject. Measured on CLIMATE-FEVER (all 1,061 claims with gold
-- evidence, BM25 + embedding top 30 each fused by reciprocal rank): a gold sentence in the fused top 5
-- for 0.6126 of the claims with BM25 over the text alone, 0.6268 over title and text; top 10: 0.6965 and
-- 0.737. Filled together with its FTS index by `warehouse.db.rebuild_fts` (the index needs the fts
-- extension, which migrations do not load); a writer opening a database whose index was built by an
-- older version (over `passages`) rebuilds it.

CREATE TABLE passage_search (
    passage_id        VARCHAR PRIMARY KEY,
    text              VARCHAR NOT NULL
);
