#!/usr/bin/env bash
# Installs what Carnet needs and is missing, and nothing else. Idempotent and quiet when all is there.
#   scripts/install.sh cli    npm packages, Prisma client
#   scripts/install.sh start  + Debian's Jupyter, a production build of the portal
#   scripts/install.sh test   + Chromium, a CAS server, Docker engine packages, PostgreSQL client/server
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-cli}
say() { echo "carnet: $*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then say "Node.js 20 ou plus est nécessaire (trouvé : $(node -v 2>/dev/null || echo aucun))."; exit 1; fi

apt_missing=()
need_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" || apt_missing+=("$1"); }
if [ "$mode" = start ] || [ "$mode" = test ]; then
  # Jupyter and the teaching stack (the same as jupyter-image/), util-linux (unshare, setpriv, prlimit) and
  # iproute2 + iptables for the local backend's sandbox (spawner/sandbox.ts, spawner/egress.ts).
  for p in jupyter-notebook python3-nbclassic python3-ipykernel python3-nbformat \
    python3-numpy python3-pandas python3-matplotlib python3-scipy python3-sympy \
    util-linux iproute2 iptables; do need_pkg "$p"; done
fi
if [ "$mode" = test ]; then
  for p in chromium fonts-dejavu-core python3-django-cas-server docker.io debootstrap postgresql; do need_pkg "$p"; done
fi
if [ ${#apt_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installation des paquets Debian : ${apt_missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
    # Debian's postgresql package starts a cluster through systemd/invoke-rc.d where it can; the tests start their own.
  else
    say "paquets Debian manquants : ${apt_missing[*]} (installez-les : sudo apt-get install ${apt_missing[*]})"; exit 1
  fi
fi

stamp=node_modules/.carnet-installed
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  say "installation des paquets npm…"
  npm install --no-audit --no-fund --loglevel=error >/dev/null
  touch "$stamp"
fi

gen=server/generated/prisma/client.ts
if [ ! -f "$gen" ] || [ prisma/schema.prisma -nt "$gen" ]; then
  PRISMA_SCHEMA_ENGINE_BINARY="$PWD/scripts/prisma-engine-stub.sh" npx --no-install prisma generate >/dev/null
fi

if [ "$mode" = start ] || [ "$mode" = test ]; then
  # Rebuild the portal when its sources changed since the last build.
  hash=$(find app components server proxy spawner instrumentation.ts next.config.js postcss.config.mjs package-lock.json \
    -type f \( -name '*.ts' -o -name '*.tsx' -o -name '*.css' -o -name '*.js' -o -name '*.mjs' -o -name '*.json' \) \
    -not -path 'server/generated/*' -not -name '*.test.ts' -print0 2>/dev/null | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  if [ ! -f .next/BUILD_ID ] || [ "$(cat .next/carnet-source-hash 2>/dev/null)" != "$hash" ]; then
    say "construction du portail (next build, une à deux minutes)…"
    NEXT_TELEMETRY_DISABLED=1 npx --no-install next build > .next-build.log 2>&1 || { cat .next-build.log >&2; say "échec de la construction"; exit 1; }
    echo "$hash" > .next/carnet-source-hash
  fi
fi
