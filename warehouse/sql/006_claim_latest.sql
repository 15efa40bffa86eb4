-- Version 6: each claim's latest verdict, kept by the store as it writes verdicts (an upsert that
-- only moves forward in (checked_at, run_id)), so `latest_verdicts` reads one row per claim instead
-- of aggregating every verdict ever given (~0.3 s over 1M verdicts). Filled here from the verdicts
-- already stored; `warehouse.store.rebuild_claim_latest` refills it after verdicts written by hand.

CREATE TABLE claim_latest (
    claim_id          VARCHAR PRIMARY KEY,
    run_id            VARCHAR NOT NULL,
    label             VARCHAR NOT NULL,
    confidence        DOUBLE NOT NULL,
    checked_at        TIMESTAMPTZ NOT NULL
);

INSERT INTO claim_latest
SELECT claim_id, arg_max(run_id, k), arg_max(label, k), arg_max(confidence, k), max(checked_at)
FROM (SELECT *, create_sort_key(checked_at, 'ASC NULLS FIRST', run_id, 'ASC NULLS FIRST') AS k FROM verdicts)
GROUP BY claim_id;
