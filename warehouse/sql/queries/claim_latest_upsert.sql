-- Move claim_latest forward for the verdicts just written by run $1 for claims $2 (a later
-- (checked_at, run_id) wins; the same run written again replaces its own row).
INSERT INTO claim_latest
SELECT claim_id, run_id, label, confidence, checked_at
FROM verdicts
WHERE run_id = $1 AND claim_id IN (SELECT unnest($2::VARCHAR[]))
ON CONFLICT (claim_id) DO UPDATE
SET run_id = excluded.run_id, label = excluded.label, confidence = excluded.confidence,
    checked_at = excluded.checked_at
WHERE (excluded.checked_at, excluded.run_id) >= (claim_latest.checked_at, claim_latest.run_id);
