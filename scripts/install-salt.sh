#!/usr/bin/env bash
# Installs salt-master and salt-api (rest_cherrypy) from PyPI into a virtualenv under
# ${SDK_CACHE_DIR:-/var/cache/metalk8s-sdk}/salt-venv, for the SDK's SaltAPI tests.
# Idempotent: an existing venv with the pinned salt version is kept. Prints the venv path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
CACHE="${SDK_CACHE_DIR:-/var/cache/metalk8s-sdk}"
VENV="$CACHE/salt-venv"
req="$here/salt-requirements.txt"
want="$(sed -n 's/^salt==//p' "$req")"
PYTHON="${PYTHON:-python3}"

if [ -x "$VENV/bin/salt-api" ] && [ -f "$VENV/.sdk-requirements" ] && cmp -s "$req" "$VENV/.sdk-requirements"; then
  echo "$VENV"
  exit 0
fi
command -v "$PYTHON" >/dev/null || { echo "error: $PYTHON is not installed (apt package python3, python3-venv)" >&2; exit 1; }
# The marker file is written last: a half-done install is redone from scratch.
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -r "$req"
"$VENV/bin/python" -c "import salt.version, cherrypy, tornado, zmq; assert salt.version.__version__ == '$want', salt.version.__version__"
cp "$req" "$VENV/.sdk-requirements"
echo "$VENV"
