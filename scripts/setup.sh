#!/usr/bin/env bash
# Creates .venv with every Python dependency at the exact versions in requirements/. Idempotent: it
# does nothing when the lock files have not changed since the last successful run.
#
# Rasa 3.6.21 declares Requires-Python <3.11, so it is installed with --no-deps and
# --ignore-requires-python on top of a fully pinned lock (see requirements/README.md for how the lock
# is built). --no-deps everywhere means pip resolves nothing: the lock is the whole environment.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
stamp="$VENV/.installed"
want=$(cat requirements/lock.txt requirements/rasa.txt | sha256sum | cut -c1-16)-$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

"$PYTHON" - <<'PY'
import sys
if sys.version_info[:2] != (3, 11):
    sys.exit(f"Python 3.11 is required (found {sys.version.split()[0]}); set PYTHON=/path/to/python3.11")
PY

echo "==> installing Python dependencies into $VENV (first time takes a few minutes)"
start=$(date +%s)
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
pip_quiet=(--quiet --disable-pip-version-check --no-input --progress-bar off)
"$VENV/bin/python" -m pip install "${pip_quiet[@]}" --no-deps -r requirements/lock.txt
"$VENV/bin/python" -m pip install "${pip_quiet[@]}" --no-deps --ignore-requires-python -r requirements/rasa.txt
"$VENV/bin/rasa" --version >/dev/null
# The sentence encoder's ONNX graphs, built from the packaged weights once (cached by their hash;
# training and the Rasa server build them too if the cache was cleared).
PYTHONPATH=. "$VENV/bin/python" -m bot.encoder.converted >/dev/null
echo "$want" > "$stamp"
echo "==> dependencies ready in $(( $(date +%s) - start ))s"
