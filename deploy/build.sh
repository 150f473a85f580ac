#!/usr/bin/env bash
# The one build step of the project: compiles every binary of the workspace.
# `make up` runs it on the host and deploy/Containerfile runs it inside the
# build stage, so the container build exercises the same command.
#
# `deploy/build.sh --out DIR` then copies the platform's programs into DIR:
# bianmin-gateway and bianmin-<name> for each service of deploy/services.txt
# (what the container image ships).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
out=""
case "${1:-}" in
  "") ;;
  --out) [ -n "${2:-}" ] || die "usage: $0 [--out DIR]"; out="$2" ;;
  *) die "usage: $0 [--out DIR]" ;;
esac
PROFILE="${BUILD_PROFILE:-release}"
if [ "$PROFILE" = "release" ]; then
  cargo build --locked --release --workspace --bins
  profile_dir=release
else
  cargo build --locked --workspace --bins
  profile_dir=debug
fi
if [ -n "$out" ]; then
  load_backend_services
  mkdir -p "$out"
  for program in bianmin-gateway "${BACKEND_NAMES[@]/#/bianmin-}"; do
    cp "${CARGO_TARGET_DIR:-target}/$profile_dir/$program" "$out/"
  done
fi
