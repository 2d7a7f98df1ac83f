#!/usr/bin/env bash
# Every check CI runs, in order: lint, format, types, import contracts, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff check"; ruff check .
echo "== ruff format --check"; ruff format --check .
echo "== mypy"; mypy
echo "== import-linter"; lint-imports
# The storage tests also run on PostgreSQL when one answers on this machine (CI's does).
if [[ -z "${LONGFORM_TEST_POSTGRES_URL:-}" ]] && command -v pg_isready >/dev/null \
    && pg_isready -q -h 127.0.0.1 -p 5432; then
    export LONGFORM_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    echo "== PostgreSQL found at 127.0.0.1:5432: storage tests run on it too"
fi
# Mutation testing in CI: only for a full run (no paths given), only the packages the last commit
# touched, a fixed seeded sample of their mutants, five minutes at most, and report-only (a sample
# this small swings by +-15 points, too much for a gate: `make mutation` runs them all, with the
# targets in tests/README.md). It runs before pytest so that pytest's summary closes the output.
# LONGFORM_MUTATION=off skips it; LONGFORM_MUTATION_BASE compares with another commit.
if [[ $# -eq 0 && "${LONGFORM_MUTATION:-on}" != off ]]; then
    base="${LONGFORM_MUTATION_BASE:-HEAD~1}"
    if git rev-parse -q --verify "$base^{commit}" >/dev/null; then
        echo "== mutation (a sample of what changed since $base; report only)"
        python scripts/mutation.py --changed-since "$base" --sample 10 --seed 18 \
            --max-seconds 300 || echo "== mutation sample did not complete (report only)"
    else
        echo "== mutation skipped: no commit $base to compare with (a shallow clone?)"
    fi
fi
echo "== pytest"; pytest "$@"
