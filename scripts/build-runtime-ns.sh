#!/usr/bin/env bash
# Builds runtime-ns (src/runtime/runtime-ns.c), the small program through which crun runs on a hybrid cgroup host: in
# a mount namespace of its own without the host's cgroup v2 mount (docs/design-notes.md, "crun on a hybrid cgroup
# host"). The one place its compile command is written: scripts/setup.sh runs it when build/runtime-ns is missing or
# older than its source, and so do the runtime's tests (src/runtime/testkit.ts, ensureNsHelper).
#   scripts/build-runtime-ns.sh [OUT]    OUT: default build/runtime-ns (a relative path is the checkout's)
# Static against libc.a (libc6-dev): no dynamic linking on each runtime call; a dynamic build where that fails. Written
# to a temporary file beside OUT and renamed over it, so that a runtime call never runs a half-written program and
# two builds at once (setup.sh, a test process) do not write one file.
set -euo pipefail
cd "$(dirname "$0")/.."
src=src/runtime/runtime-ns.c
out=${1:-build/runtime-ns}
mkdir -p "$(dirname "$out")"
tmp="$out.$$.tmp"
trap 'rm -f "$tmp"' EXIT
cc -O2 -Wall -static -o "$tmp" "$src" 2>/dev/null || cc -O2 -Wall -o "$tmp" "$src"
mv "$tmp" "$out"
