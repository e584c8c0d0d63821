#!/usr/bin/env bash
# Writes a new SQL migration from the change to prisma/schema.prisma, offline.
# Prisma 7's CLI needs a native schema engine it cannot download here; prisma@6.19.3 has a wasm one whose
# schema-to-schema diff needs no database. It lives in .cache/prisma6 (never an app dependency).
# Usage: scripts/new-migration.sh <name>
set -euo pipefail
name=${1:?usage: scripts/new-migration.sh <name>}
root=$(cd "$(dirname "$0")/.." && pwd)
tools=$root/.cache/prisma6
if [ ! -x "$tools/node_modules/.bin/prisma" ]; then
  mkdir -p "$tools"
  echo '{"name":"carnet-prisma6-tools","private":true}' > "$tools/package.json"
  (cd "$tools" && npm install --no-audit --no-fund --silent prisma@6.19.3 @prisma/client@6.19.3)
fi
ln -sfn "$root/node_modules/@electric-sql" "$tools/node_modules/@electric-sql"
ln -sfn "$root/node_modules/pglite-prisma-adapter" "$tools/node_modules/pglite-prisma-adapter"
cat > "$tools/prisma.config.ts" <<'TS'
import { defineConfig } from "prisma/config";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPGlite } from "pglite-prisma-adapter";
// An in-memory PGlite stands in for the adapter the config requires; the diff itself never queries it.
export default defineConfig({ experimental: { adapter: true }, engine: "js", adapter: async () => new PrismaPGlite(new PGlite()) } as never);
TS
# Prisma 6 wants the old generator and a url; the model is the same.
to_v6() { sed -e 's/"prisma-client"/"prisma-client-js"/' -e '/moduleFormat/d' -e '/^  output/d' -e 's/^  provider = "postgresql"$/  provider = "postgresql"\n  url = "postgresql:\/\/unused"/' "$1"; }
last=$(ls -d "$root"/prisma/migrations/*/ 2>/dev/null | sort | tail -n 1 || true)
if [ -n "$last" ] && [ -f "$last/schema.prisma" ]; then to_v6 "$last/schema.prisma" > "$tools/from.prisma"
else printf 'datasource db {\n  provider = "postgresql"\n  url = "postgresql://unused"\n}\n' > "$tools/from.prisma"; fi
to_v6 "$root/prisma/schema.prisma" > "$tools/to.prisma"
dir=$root/prisma/migrations/$(date -u +%Y%m%d%H%M%S)_$name
sql=$(cd "$tools" && PRISMA_SCHEMA_ENGINE_BINARY=$root/scripts/prisma-engine-stub.sh PRISMA_QUERY_ENGINE_LIBRARY=$root/scripts/prisma-engine-stub.sh \
  npx prisma migrate diff --from-schema-datamodel from.prisma --to-schema-datamodel to.prisma --script 2>/dev/null)
if [ -z "$(echo "$sql" | grep -v '^--' | tr -d '[:space:]')" ]; then echo "no schema change" >&2; exit 1; fi
mkdir -p "$dir"; echo "$sql" > "$dir/migration.sql"; cp "$root/prisma/schema.prisma" "$dir/schema.prisma"
echo "wrote $dir/migration.sql"
