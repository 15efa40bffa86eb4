-- Refill claim_latest from every stored verdict (after verdicts were written outside the store).
DELETE FROM claim_latest;
INSERT INTO claim_latest
SELECT claim_id, arg_max(run_id, k), arg_max(label, k), arg_max(confidence, k), max(checked_at)
FROM (SELECT *, create_sort_key(checked_at, 'ASC NULLS FIRST', run_id, 'ASC NULLS FIRST') AS k FROM verdicts)
GROUP BY claim_id;
