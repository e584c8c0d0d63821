-- Sessions that end: a per-user version carried by every session (portal JWT, notebook-host cookie); bumping it
-- ends them all. Personal access tokens may expire.
ALTER TABLE "User" ADD COLUMN "sessionVersion" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "ApiToken" ADD COLUMN "expiresAt" TIMESTAMP(3);
