#!/usr/bin/env bash
# Serve the dash-stash demo gallery on a fresh machine: makes .venv if needed, installs
# dash-stash into it (with pandas, so the demo's large table is a DataFrame, and what Dash's
# DiskcacheManager needs for the background job), then runs
# `dash-stash demo`. Stores go to ./.dash_stash/ of the repo unless DASH_STASH_BACKEND says
# otherwise. Extra arguments go to `dash-stash demo` (for example: --port 8060).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q -e ".[pandas,background]"
exec .venv/bin/dash-stash demo "$@"
