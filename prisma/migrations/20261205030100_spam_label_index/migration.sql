-- Exports leave out spam-labelled messages by default: the mean of their "spam" values is above
-- 0.5 (SPAM_MAJORITY in app/domain/consensus/labels.ts). Only a message with some value above 0.5
-- can qualify, and this index holds just those labels (a few per cent of them): the export reads
-- it once and averages only the messages it names. The predicate is written exactly as
-- spamLabelledSql (app/models/datasets/export-source.server.ts) writes its condition, which is what
-- lets the planner use it.
CREATE INDEX "labels_spam_majority_idx" ON "labels" ("message_id")
  WHERE CASE WHEN jsonb_typeof("values" -> 'spam') = 'number' THEN ("values" ->> 'spam')::float8 END > 0.5;
