-- Limits per student and per copy (docs/operations.md "Limits"): the disk a copy's folder uses and since when it is
-- over the quota (the teacher sees it on the dashboard), and who started each live server (only the student's own
-- starts count against CARNET_MAX_SERVERS_PER_STUDENT).
ALTER TABLE "Copy" ADD COLUMN "diskMb" INTEGER;
ALTER TABLE "Copy" ADD COLUMN "overQuotaAt" TIMESTAMP(3);
ALTER TABLE "JupyterServer" ADD COLUMN "startedById" TEXT;
