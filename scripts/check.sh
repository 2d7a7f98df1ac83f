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
echo "== pytest"; pytest "$@"
