-- Verdicts whose calibrated confidence is below Thresholds.review_below_confidence are flagged
-- for a human to look at (issue: a trained stance model and calibrated verdicts).
ALTER TABLE verdicts ADD COLUMN needs_review BOOLEAN DEFAULT false;
