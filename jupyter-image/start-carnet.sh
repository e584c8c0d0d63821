#!/bin/sh
# Starts Jupyter (nbclassic) for one Carnet copy. The contract is in README.md next to this file.
# The token never appears on the command line: Jupyter reads it from JUPYTER_TOKEN_FILE (or JUPYTER_TOKEN).
# Carnet's options (no quit button, no terminals, hidden files not served…) are in the root-owned
# $JUPYTER_CONFIG_DIR/jupyter_server_config.py, shared with the local backend.
set -eu

: "${CARNET_BASE_URL:=/}"
: "${CARNET_ROOT_DIR:=/home/jovyan/work}"
: "${CARNET_IP:=127.0.0.1}"
: "${CARNET_PORT:=8888}"
: "${JUPYTER_CONFIG_DIR:=/usr/local/share/carnet/jupyter/config}"
: "${JUPYTER_DATA_DIR:=/usr/local/share/carnet/jupyter/data}"

if [ -z "${JUPYTER_TOKEN_FILE:-}" ] && [ -z "${JUPYTER_TOKEN:-}" ]; then
  echo "start-carnet: set JUPYTER_TOKEN_FILE (preferred) or JUPYTER_TOKEN" >&2
  exit 64
fi

# The container may run as any uid (the owner of the student's folder), so HOME and Jupyter's runtime files
# live in /tmp (a size-limited tmpfs when the root filesystem is read-only), private to that uid.
export HOME=/tmp/home JUPYTER_CONFIG_DIR JUPYTER_DATA_DIR PYTHONNOUSERSITE=1
export JUPYTER_RUNTIME_DIR=$HOME/.local/share/jupyter/runtime IPYTHONDIR=$HOME/.ipython \
       MPLCONFIGDIR=$HOME/.config/matplotlib
umask 077
mkdir -p "$JUPYTER_RUNTIME_DIR" "$IPYTHONDIR" "$MPLCONFIGDIR"

if [ -n "${CARNET_SOCK:-}" ]; then
  listen="--ServerApp.sock=$CARNET_SOCK --ServerApp.sock_mode=0600"
else
  listen="--ServerApp.ip=$CARNET_IP --ServerApp.port=$CARNET_PORT --ServerApp.port_retries=0"
fi

# Carnet's sitecustomize.py for the server alone (it removes PYTHONPATH at once: kernels never see it), run before
# Jupyter imports anything (data/carnet-server/, docs/operations.md "Weight").
# shellcheck disable=SC2086 # $listen is a list of words on purpose
PYTHONPATH="$JUPYTER_DATA_DIR/carnet-server" exec /usr/bin/python3 /usr/bin/jupyter-nbclassic --no-browser $listen \
  --ServerApp.base_url="$CARNET_BASE_URL" \
  --ServerApp.root_dir="$CARNET_ROOT_DIR"
