-- The teacher's weekly job (docs/grading.md): hand-in ("Rendue") with a frozen snapshot, "Corrigée", appréciation and
-- évaluation released to the student, comments on cells; access windows per activity (opening date, deadline,
-- open / readonly / locked). ADD VALUE inside the migration's transaction is fine (PostgreSQL 12+): nothing below
-- uses 'GRADED'.
-- CreateEnum
CREATE TYPE "AccessMode" AS ENUM ('open', 'readonly', 'locked');

-- CreateEnum
CREATE TYPE "FeedbackRelease" AS ENUM ('graded', 'immediate');

-- AlterEnum
ALTER TYPE "CopyState" ADD VALUE 'GRADED';

-- AlterTable
ALTER TABLE "Activity" ADD COLUMN     "accessMode" "AccessMode" NOT NULL DEFAULT 'open',
ADD COLUMN     "closesAt" TIMESTAMP(3),
ADD COLUMN     "deadlineDoneAt" TIMESTAMP(3),
ADD COLUMN     "feedbackRelease" "FeedbackRelease" NOT NULL DEFAULT 'graded',
ADD COLUMN     "opensAt" TIMESTAMP(3);

-- AlterTable
ALTER TABLE "Copy" ADD COLUMN     "appreciation" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "feedbackReleasedAt" TIMESTAMP(3),
ADD COLUMN     "grade" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "gradedAt" TIMESTAMP(3),
ADD COLUMN     "reopenedAt" TIMESTAMP(3),
ADD COLUMN     "submissionCount" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "submittedAt" TIMESTAMP(3),
ADD COLUMN     "submittedBy" TEXT,
ADD COLUMN     "submittedSnapshot" TEXT;

-- CreateTable
CREATE TABLE "CopyComment" (
    "id" TEXT NOT NULL,
    "copyId" TEXT NOT NULL,
    "cellIndex" INTEGER NOT NULL,
    "cellId" TEXT,
    "authorId" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "CopyComment_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "CopyComment_copyId_cellIndex_idx" ON "CopyComment"("copyId", "cellIndex");

-- CreateIndex
CREATE INDEX "Activity_closesAt_idx" ON "Activity"("closesAt");

-- AddForeignKey
ALTER TABLE "CopyComment" ADD CONSTRAINT "CopyComment_copyId_fkey" FOREIGN KEY ("copyId") REFERENCES "Copy"("id") ON DELETE CASCADE ON UPDATE CASCADE;
