#!/usr/bin/env bash
# The one build step of the project: compiles every binary of the workspace.
# `make up` runs it on the host and deploy/Containerfile runs it inside the
# build stage, so the container build exercises the same command.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${BUILD_PROFILE:-release}"
if [ "$PROFILE" = "release" ]; then
  cargo build --locked --release --workspace --bins
else
  cargo build --locked --workspace --bins
fi
