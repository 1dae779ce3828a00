#!/usr/bin/env bash
# Run the whole test suite, installing first whatever this machine lacks:
#   Debian: chromium, chromium-driver, redis-server (with apt-get, as root or through sudo)
#   Python: a .venv with dash-stash and its test extras (newest Dash 4.x), and one venv per
#           older Dash we test the integration with: the oldest we claim (3.0.0) and the
#           newest 3.x (3.4.0).
# Extra arguments go to pytest (for example: bash scripts/test.sh -k seed).
set -euo pipefail
cd "$(dirname "$0")/.."

OLDER_DASHES="3.0.0 3.4.0"
# Tests run in 2 processes (pytest-xdist; a module's tests stay in one): most of a test's
# time is servers and browsers waiting, so two at once fill the 2 cores CI has.
JOBS="${PYTEST_JOBS:-2}"
PYTHON="${PYTHON:-python3}"

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing Debian packages: ${missing[*]}"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

venv() {  # venv DIR PIP-ARGS...: create DIR if needed and install into it
    local dir="$1"; shift
    [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$dir/bin/python" -m pip install -q "$@"
}

run_pytest() {  # pytest exits 5 when it ran no test: that must fail, not pass
    local rc=0
    "$@" || rc=$?
    if [ "$rc" -eq 5 ]; then echo "pytest ran no test: failing"; return 1; fi
    return "$rc"
}

echo "== Python environment (newest Dash 4.x)"
venv .venv -e ".[test,pandas,polars,numpy,redis,compression,background]" "dash>=4,<5"
.venv/bin/ruff check src tests examples benchmarks
.venv/bin/ruff format --check src tests examples benchmarks

echo "== whole suite on Dash $(.venv/bin/python -c 'import dash; print(dash.__version__)')"
run_pytest .venv/bin/python -m pytest -n "$JOBS" --dist loadscope "$@"

if [ $# -eq 0 ]; then
    for version in $OLDER_DASHES; do
        echo "== integration tests on Dash $version"
        venv ".venv-dash-$version" -e ".[test,pandas,polars,numpy,redis,background]" "dash==$version"
        run_pytest ".venv-dash-$version/bin/python" -m pytest -n "$JOBS" --dist loadscope -m integration
    done
fi
