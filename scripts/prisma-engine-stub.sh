#!/bin/sh
# Prisma's CLI insists on a native schema engine it would download. Carnet never needs it (generate works without
# running it; migrations are applied by server/db/migrate.ts). Exiting non-zero keeps `migrate dev`/`db push` honest.
echo "carnet: the Prisma schema engine is not available offline; use ./carnet migrate (see docs/database.md)" >&2
exit 1
