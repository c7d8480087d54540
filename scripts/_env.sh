# Sourced by the other scripts: find or install uv, sync the locked environment, and give
# Dagster a home inside the checkout so nothing lands elsewhere.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
UV_VERSION=0.13.9
if command -v uv >/dev/null 2>&1; then
  UV=uv
else
  if [ ! -x .tools/bin/uv ]; then
    python3 -m venv .tools
    .tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  fi
  UV=.tools/bin/uv
fi
# Bytecode is compiled at install: where Python may not write it at run time
# (PYTHONDONTWRITEBYTECODE=1, read-only images), every start would otherwise compile Dagster anew.
export UV_COMPILE_BYTECODE=1
"$UV" sync --frozen --quiet
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/.dagster_home}"
mkdir -p "$DAGSTER_HOME"
[ -e "$DAGSTER_HOME/dagster.yaml" ] || cp dagster.yaml "$DAGSTER_HOME/dagster.yaml"
# Create and migrate the instance's databases once, before any run can start: runs started
# together on a home whose SQLite files do not exist yet race on creating the schema.
if [ ! -e "$DAGSTER_HOME/.migrated" ]; then
  (
    flock 9
    if [ ! -e "$DAGSTER_HOME/.migrated" ]; then
      "$UV" run --frozen dagster instance migrate >/dev/null
      touch "$DAGSTER_HOME/.migrated"
    fi
  ) 9>"$DAGSTER_HOME/.migrate.lock"
fi
