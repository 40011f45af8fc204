"""``Observation.trusted``: the bulk readers' fast constructor builds what pydantic itself builds."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from scanner.observations import Observation

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "fields",
    [
        {
            "signal": "sadp.model",
            "value": "DS-2CD2385G1-I",
            "probe": "sadp",
            "ip": "10.0.0.5",
            "mac": "58:50:ed:1f:e3:85",
            "port": 37020,
            "seen_at": NOW,
        },
        {
            "signal": "mac",
            "value": "58:50:ed:1f:e3:85",
            "probe": "arp",
            "ip": None,
            "mac": "58:50:ed:1f:e3:85",
            "port": None,
            "seen_at": NOW,
        },
    ],
)
def test_trusted_is_the_validated_observation(fields: dict[str, object]) -> None:
    fast = Observation.trusted(**fields)  # type: ignore[arg-type]
    checked = Observation(**fields)  # type: ignore[arg-type]
    assert fast == checked
    assert hash(fast) == hash(checked)  # frozen models hash by value: sets of observations dedupe
    assert fast.model_dump() == checked.model_dump()
    assert fast.model_dump_json() == checked.model_dump_json()
    assert fast.model_fields_set == checked.model_fields_set
    assert pickle.loads(pickle.dumps(fast)) == checked  # crosses process pools
    assert Observation.model_validate_json(fast.model_dump_json()) == checked


def test_trusted_observation_stays_frozen() -> None:
    fast = Observation.trusted("mac", "58:50:ed:00:00:01", "arp", "10.0.0.5", None, None, NOW)
    with pytest.raises(Exception, match="frozen"):
        fast.value = "x"  # type: ignore[misc]
    assert fast.model_copy(update={"value": "y"}).value == "y"
