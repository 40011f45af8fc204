"""Where the tests find their data and the repository, wherever a test file sits under tests/."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
DATA_DIR = TESTS / "data"
REPO = TESTS.parent
