-- Unix users of the copies' servers start at 200000, clear of system and ordinary accounts.
CREATE SEQUENCE IF NOT EXISTS "carnet_uid_seq" START 200000;

-- AlterTable
ALTER TABLE "Copy" ADD COLUMN     "uid" INTEGER NOT NULL DEFAULT nextval('carnet_uid_seq');

-- CreateIndex
CREATE UNIQUE INDEX "Copy_uid_key" ON "Copy"("uid");
