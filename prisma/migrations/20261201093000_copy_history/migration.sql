-- History of copies (docs/history.md): immutable snapshots whose bytes live by content under <data>/history,
-- and teacher updates offered to / applied on existing copies.
CREATE TYPE "SnapshotKind" AS ENUM ('SAVE', 'SUBMIT', 'RESET', 'UPDATE', 'RESTORE');

CREATE TABLE "Snapshot" (
    "id" TEXT NOT NULL,
    "copyId" TEXT NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "kind" "SnapshotKind" NOT NULL,
    "size" BIGINT NOT NULL,
    "notebookHash" TEXT,
    "notebookPath" TEXT NOT NULL,
    "annexes" JSONB NOT NULL DEFAULT '[]',
    "fingerprint" TEXT NOT NULL,
    "versionId" TEXT,
    "baseHash" TEXT,
    "actorId" TEXT,
    "beforeId" TEXT,
    "summary" JSONB,

    CONSTRAINT "Snapshot_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "Snapshot_copyId_at_idx" ON "Snapshot"("copyId", "at");

ALTER TABLE "Snapshot" ADD CONSTRAINT "Snapshot_copyId_fkey" FOREIGN KEY ("copyId") REFERENCES "Copy"("id") ON DELETE CASCADE ON UPDATE CASCADE;

CREATE TYPE "CopyUpdateStatus" AS ENUM ('OFFERED', 'APPLIED', 'UNDONE');

CREATE TABLE "CopyUpdate" (
    "id" TEXT NOT NULL,
    "copyId" TEXT NOT NULL,
    "fromVersionId" TEXT NOT NULL,
    "toVersionId" TEXT NOT NULL,
    "status" "CopyUpdateStatus" NOT NULL DEFAULT 'OFFERED',
    "offeredAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "appliedAt" TIMESTAMP(3),
    "appliedById" TEXT,
    "beforeId" TEXT,
    "afterId" TEXT,
    "summary" JSONB,

    CONSTRAINT "CopyUpdate_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "CopyUpdate_copyId_toVersionId_key" ON "CopyUpdate"("copyId", "toVersionId");
CREATE INDEX "CopyUpdate_copyId_offeredAt_idx" ON "CopyUpdate"("copyId", "offeredAt");

ALTER TABLE "CopyUpdate" ADD CONSTRAINT "CopyUpdate_copyId_fkey" FOREIGN KEY ("copyId") REFERENCES "Copy"("id") ON DELETE CASCADE ON UPDATE CASCADE;
