-- Version 9: the caller's id of a claim checked by hand (`check-claim --from FILE.jsonl`, the "id" of
-- each line), so results join back to the input. The claim text exactly as given is in sentence_text;
-- `text` is its whitespace-normalised copy, which retrieval reads.
ALTER TABLE claims ADD COLUMN input_id VARCHAR;
