#!/usr/bin/env bash
# Runs every test: type check, unit and integration tests (vitest: real PGlite and PostgreSQL, real Jupyter,
# real Docker engine, real identity providers) and end-to-end tests (Playwright in Debian's Chromium).
# Prints one closing line "N passed, N failed, N skipped". Stops what it started, by PID.
#   scripts/test.sh [--unit-only|--e2e-only] [vitest/playwright filters...]
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mkdir -p .cache/test
export NEXT_TELEMETRY_DISABLED=1 CARNET_TEST=1
what=all
case "${1:-}" in --unit-only) what=unit; shift ;; --e2e-only) what=e2e; shift ;; esac
started=()
cleanup() {
  for s in "${started[@]:-}"; do [ -n "$s" ] && eval "$s" >/dev/null 2>&1; done
}
trap cleanup EXIT

# PostgreSQL: the machine's server if one answers on 127.0.0.1:5432, else a private one for this run.
if [ -z "${CARNET_TEST_PG_ADMIN_URL:-}" ]; then
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && psql -q -h 127.0.0.1 -U postgres -d postgres -c 'select 1' >/dev/null 2>&1; then
    export CARNET_TEST_PG_ADMIN_URL=postgresql://postgres@127.0.0.1:5432/postgres
  else
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    pgdir=$(mktemp -d /tmp/carnet-pg.XXXXXX); chown postgres "$pgdir" 2>/dev/null || true
    port=$((54000 + RANDOM % 1000))
    run() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    if run "$pgbin/initdb" -D "$pgdir/data" -A trust -U postgres >/dev/null && \
       run "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1" -w start >/dev/null; then
      started+=("run $pgbin/pg_ctl -D $pgdir/data -m fast stop; rm -rf $pgdir")
      export CARNET_TEST_PG_ADMIN_URL=postgresql://postgres@127.0.0.1:$port/postgres
      echo "carnet: serveur PostgreSQL privé pour les tests sur 127.0.0.1:$port"
    else
      echo "carnet: AVERTISSEMENT : aucun serveur PostgreSQL : les tests PostgreSQL seront ignorés" >&2
    fi
  fi
fi

# Docker: a reachable engine, else a private one (root on Debian), as docs/spawner.md describes.
if [ -z "${DOCKER_HOST:-}" ] && ! docker version >/dev/null 2>&1 && [ -x scripts/docker-engine.sh ]; then
  if out=$(scripts/docker-engine.sh start 2>.cache/test/docker-engine.log); then
    export DOCKER_HOST=$(echo "$out" | sed -n 's/^DOCKER_HOST=//p' | tail -n 1)
    started+=("$root/scripts/docker-engine.sh stop")
  else
    echo "carnet: AVERTISSEMENT : pas de moteur Docker (voir .cache/test/docker-engine.log) : les tests Docker seront ignorés" >&2
  fi
fi
if [ -n "${DOCKER_HOST:-}" ] && [ -x scripts/docker-engine.sh ]; then
  scripts/docker-engine.sh build-image >>.cache/test/docker-engine.log 2>&1 || echo "carnet: AVERTISSEMENT : image Jupyter non construite (voir .cache/test/docker-engine.log)" >&2
fi

status=0
rm -f .cache/test/vitest.json .cache/test/playwright.json .cache/test/typecheck.json .cache/test/lint.json
echo "== vérification des types (tsc)"
if npx --no-install tsc --noEmit > .cache/test/tsc.log 2>&1; then echo '{"passed":1,"failed":0}' > .cache/test/typecheck.json
else cat .cache/test/tsc.log; echo '{"passed":0,"failed":1}' > .cache/test/typecheck.json; status=1; fi

echo "== lint (typescript-eslint : promesses oubliées)"
if npx --no-install eslint . > .cache/test/lint.log 2>&1; then echo '{"passed":1,"failed":0}' > .cache/test/lint.json
else cat .cache/test/lint.log; echo '{"passed":0,"failed":1}' > .cache/test/lint.json; status=1; fi

if [ "$what" != e2e ]; then
  echo "== tests unitaires et d'intégration (vitest)"
  npx --no-install vitest run --reporter=default --reporter=json --outputFile.json=.cache/test/vitest.json "$@" || status=1
fi
if [ "$what" != unit ]; then
  echo "== tests de bout en bout (Playwright, Chromium)"
  PLAYWRIGHT_JSON_OUTPUT_NAME=.cache/test/playwright.json npx --no-install playwright test --reporter=list,json "$@" || status=1
fi
node scripts/test-summary.mjs || status=1
exit $status
