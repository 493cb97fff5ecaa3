-- Not-rankable votes counted with the consensus, so exports need not count rankings per set.
ALTER TABLE "sibling_consensus" ADD COLUMN     "not_rankable_count" INTEGER NOT NULL DEFAULT 0;

UPDATE "sibling_consensus" c
SET "not_rankable_count" = (SELECT count(*) FROM "rankings" r WHERE r."parent_message_id" = c."parent_message_id" AND r."not_rankable");
