#!/usr/bin/env bash
# Static checks: lint, format, types, import direction, generated code, the test suite's guards
# (scripts/check_tests.py), every test module importing. Runs every check and fails at the end if
# any failed, so one run shows all the problems.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

failed=()

step() {
    local name="$1"
    shift
    printf '== %s\n' "$name"
    if ! "$@"; then
        failed+=("$name")
    fi
}

collect_tests() {
    local out
    if ! out=$(uv run pytest --collect-only -qq 2>&1); then
        printf '%s\n' "$out" | grep -v ': [0-9]*$' >&2
        return 1
    fi
}

step "ruff check" uv run ruff check .
step "ruff format" uv run ruff format --check .
step "mypy (strict, packages)" uv run mypy
step "mypy (strict, scripts)" uv run mypy scripts
step "import direction" uv run lint-imports --no-cache --no-logo
step "generated protobuf code" uv run python scripts/gen_protos.py --check
step "test suite guards" uv run python scripts/check_tests.py
# Every test module imports (mypy does not read tests/): a helper renamed under a test that still
# imports it fails here, not in the middle of the suite.
step "test modules import" collect_tests

if [ "${#failed[@]}" -ne 0 ]; then
    printf 'check.sh: FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "check.sh: all checks passed"
