"""Shared fixtures. Namespace tests need root and Linux; under CI=true they fail instead of skipping."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from labtools import netns_available, require

LAB_FIXTURES = {"require_netns", "lab_factory"}


@pytest.fixture(scope="session", autouse=True)
def _empty_user_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test sees an OUI registry the machine's user updated or the user's own fingerprints: the user
    data and fingerprint directories ($NDAA_SCAN_DATA_DIR, $NDAA_SCAN_FINGERPRINTS_DIR, inherited by every
    subprocess a test starts) are empty temporary ones."""
    from scanner.datafiles import DATA_DIR_ENV, LOCAL_FINGERPRINTS_ENV

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DATA_DIR_ENV, str(tmp_path_factory.mktemp("user-data")))
        mp.setenv(LOCAL_FINGERPRINTS_ENV, str(tmp_path_factory.mktemp("user-fingerprints")))
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every namespace test ``netns``: those under tests/lab/ and those that use the lab fixtures
    (``pytest -m "not netns"`` runs the rest without root)."""
    lab_dir = Path(__file__).resolve().parent / "lab"
    for item in items:
        uses_lab = LAB_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if uses_lab or lab_dir in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.netns)


@pytest.fixture
def no_scan(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record any attempt to scan (a CLI test asserts there is none, or what it was given)."""
    calls: list[Any] = []
    monkeypatch.setattr("scanner.scan.run_scan", lambda *a, **k: calls.append(a))
    monkeypatch.setattr("scanner.scan.run_probes", lambda *a, **k: calls.append(a))
    return calls


@pytest.fixture
def require_netns() -> None:
    require(netns_available())


@pytest.fixture
def lab_factory(require_netns: None) -> Iterator[Callable[..., Any]]:
    """Bring up labs from TOML text or dicts with unique names; every lab is torn down afterwards.

    ``lab = lab_factory(devices=[{...}], subnet="10.99.0.0/24", scanner_ip="10.99.0.2")`` returns the
    LabSpec (scanner namespace: ``lab.scanner_ns``). Use ``scanner.lab.netns.run_in_netns`` to run
    probe code inside the scanner's namespace.
    """
    from scanner.lab.manager import lab_down, lab_up
    from scanner.lab.spec import parse_lab, render_lab

    made: list[str] = []
    tmpdir = Path(tempfile.mkdtemp(prefix="ndaa-lab-"))

    def make(
        devices: list[dict[str, Any]] | None = None,
        *,
        groups: list[dict[str, Any]] | None = None,
        subnet: str = "10.99.0.0/24",
        scanner_ip: str = "10.99.0.2",
        simulate: bool = True,
        builtin: str | None = None,
        **lab_settings: Any,
    ) -> Any:
        """A lab from device/group dicts, or a copy of a built-in lab file (``builtin="demo"``) renamed.

        ``lab_settings`` go into the lab's ``[lab]`` table: ``loss="20%"``, ``delay="300ms"``,
        ``jitter="50ms"``, ``switch="userspace"`` (a device dict may carry its own loss/delay/jitter)."""
        import tomllib

        name = "t" + secrets.token_hex(3)
        if builtin:
            from scanner.datafiles import labs_dir

            raw = tomllib.loads((labs_dir() / f"{builtin}.toml").read_text())
            raw["lab"]["name"] = name
        else:
            raw = {
                "lab": {"name": name, "subnet": subnet, "scanner_ip": scanner_ip},
                "device": devices or [],
                "group": groups or [],
            }
        raw["lab"].update(lab_settings)
        spec = parse_lab(raw, "test lab")
        path = tmpdir / f"{name}.toml"
        path.write_text(render_lab(raw))
        made.append(name)
        status = lab_up(spec, path, simulate=simulate)
        if status.failures:
            raise AssertionError("lab responders failed:\n" + "\n".join(status.failures))
        return spec

    yield make
    for name in made:
        lab_down(name)
