"""Identification tests never see an updated OUI registry of the machine they run on: the user's data
directory ($NDAA_SCAN_DATA_DIR) points at an empty temporary directory for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scanner.datafiles import DATA_DIR_ENV


@pytest.fixture(scope="session", autouse=True)
def _empty_user_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DATA_DIR_ENV, str(tmp_path_factory.mktemp("user-data")))
        yield
