-- CreateEnum
CREATE TYPE "RankingOrder" AS ENUM ('random', 'uncertainty');

-- AlterTable
ALTER TABLE "projects" ADD COLUMN     "ranking_order" "RankingOrder" NOT NULL DEFAULT 'random',
ADD COLUMN     "ranking_reward_model_id" UUID,
ADD COLUMN     "ranking_second_reward_model_id" UUID;

-- AddForeignKey
ALTER TABLE "projects" ADD CONSTRAINT "projects_ranking_reward_model_id_fkey" FOREIGN KEY ("ranking_reward_model_id") REFERENCES "model_versions"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "projects" ADD CONSTRAINT "projects_ranking_second_reward_model_id_fkey" FOREIGN KEY ("ranking_second_reward_model_id") REFERENCES "model_versions"("id") ON DELETE SET NULL ON UPDATE CASCADE;

