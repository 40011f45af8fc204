#!/bin/sh
# The project's gate, as CI runs it: lint, format, types, then the whole test suite with a coverage floor.
# Run after `sh scripts/bootstrap.sh --test`. Extra arguments go to pytest (e.g. -m "not netns", -x).
set -eu
cd "$(dirname "$0")/.."
py=.venv/bin/python
echo "check: ruff lint" >&2
$py -m ruff check --no-cache .
echo "check: ruff format" >&2
$py -m ruff format --no-cache --check .
echo "check: mypy --strict scanner/" >&2
$py -m mypy --no-incremental --cache-dir=/dev/null
echo "check: tests (import-cycle test included) with coverage" >&2
exec $py -m pytest -q -p no:cacheprovider --cov=scanner --cov-report=term:skip-covered --cov-report= "$@"
