#!/bin/sh
# The project's static gate, as CI runs it before the tests: ruff lint, ruff format, mypy --strict.
# Run after `sh scripts/bootstrap.sh --test`. The tests follow in the README's test command (pytest with
# coverage; the import-cycle checks are tests/test_imports.py).
set -eu
cd "$(dirname "$0")/.."
py=.venv/bin/python
echo "lint: ruff check" >&2
$py -m ruff check --no-cache .
echo "lint: ruff format --check" >&2
$py -m ruff format --no-cache --check .
echo "lint: mypy --strict scanner/" >&2
$py -m mypy --no-incremental --cache-dir=/dev/null
