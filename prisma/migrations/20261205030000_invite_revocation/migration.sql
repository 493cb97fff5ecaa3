-- AlterTable
ALTER TABLE "invites" ADD COLUMN     "revoked_at" TIMESTAMP(3);

-- AddForeignKey
ALTER TABLE "invites" ADD CONSTRAINT "invites_used_by_id_fkey" FOREIGN KEY ("used_by_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

