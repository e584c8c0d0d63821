#!/bin/sh
# Starts Jupyter (nbclassic) for one Carnet copy. The contract is in README.md next to this file.
# The token never appears on the command line: Jupyter reads it from JUPYTER_TOKEN_FILE (or JUPYTER_TOKEN).
set -eu

: "${CARNET_BASE_URL:=/}"
: "${CARNET_ROOT_DIR:=/home/jovyan/work}"
: "${CARNET_IP:=127.0.0.1}"
: "${CARNET_PORT:=8888}"

if [ -z "${JUPYTER_TOKEN_FILE:-}" ] && [ -z "${JUPYTER_TOKEN:-}" ]; then
  echo "start-carnet: set JUPYTER_TOKEN_FILE (preferred) or JUPYTER_TOKEN" >&2
  exit 64
fi

# The container may run as any uid (the owner of the student's folder), so HOME and Jupyter's own
# directories live in /tmp (a tmpfs when the root filesystem is read-only), private to that uid.
export HOME=/tmp/home
export JUPYTER_CONFIG_DIR=$HOME/.jupyter JUPYTER_DATA_DIR=$HOME/.local/share/jupyter \
       JUPYTER_RUNTIME_DIR=$HOME/.local/share/jupyter/runtime IPYTHONDIR=$HOME/.ipython \
       MPLCONFIGDIR=$HOME/.config/matplotlib
umask 077
mkdir -p "$JUPYTER_CONFIG_DIR" "$JUPYTER_DATA_DIR" "$JUPYTER_RUNTIME_DIR" "$IPYTHONDIR" "$MPLCONFIGDIR"

if [ -n "${CARNET_SOCK:-}" ]; then
  listen="--ServerApp.sock=$CARNET_SOCK --ServerApp.sock_mode=0600"
else
  listen="--ServerApp.ip=$CARNET_IP --ServerApp.port=$CARNET_PORT --ServerApp.port_retries=0"
fi

# shellcheck disable=SC2086 # $listen is a list of words on purpose
exec /usr/bin/python3 /usr/bin/jupyter-nbclassic --no-browser $listen \
  --ServerApp.base_url="$CARNET_BASE_URL" \
  --ServerApp.root_dir="$CARNET_ROOT_DIR" \
  --ServerApp.allow_remote_access=True \
  --ServerApp.terminals_enabled=False \
  --ServerApp.allow_root=False \
  --ContentsManager.allow_hidden=False
