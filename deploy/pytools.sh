#!/usr/bin/env bash
# Python tools the tests use, pinned, in a venv of the project's own
# (.tools/venv): openapi-spec-validator checks the served /openapi.json;
# deltalake (with pyarrow) reads our Delta tables in the interop test;
# duckdb is what `arus bench serving` compares the SQL endpoint with;
# moto's server is the S3 the object-storage tests write the lake to.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.tools/venv
want=("openapi-spec-validator==0.9.0" "deltalake==1.6.6" "pyarrow==22.0.0" "duckdb==2.0.0" "moto[server]==5.2.5")
if [ -x "$venv/bin/openapi-spec-validator" ]; then
  frozen=$("$venv/bin/pip" freeze 2>/dev/null || true)
  missing=0
  # pip freeze names a package without its extras ("moto[server]" is "moto").
  for w in "${want[@]}"; do grep -qx "${w/\[*\]/}" <<<"$frozen" || missing=1; done
  [ "$missing" = 0 ] && exit 0
fi
if ! python3 -m venv "$venv" 2>/dev/null; then
  # Debian's python3 keeps venv in a package of its own.
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-venv >/dev/null
  rm -rf "$venv" && python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check "${want[@]}"
