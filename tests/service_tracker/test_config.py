"""Settings from the environment: defaults, and a bad value named for the operator."""

from __future__ import annotations

import pytest

from service_tracker.config import ConfigError, Settings


def test_one_worker_holds_twelve_postgres_connections_unless_told() -> None:
    assert Settings.from_env({}).database_pool_size == 12
    assert Settings.from_env({"DATABASE_POOL_SIZE": ""}).database_pool_size == 12
    assert Settings.from_env({"DATABASE_POOL_SIZE": "30"}).database_pool_size == 30
    assert Settings.from_env({"DATABASE_POOL_SIZE": "2"}).database_pool_size == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("many", "DATABASE_POOL_SIZE='many': expected a number"),
        ("7.5", "DATABASE_POOL_SIZE='7.5': expected a number"),
        ("1", "DATABASE_POOL_SIZE='1': expected a value from 2 to 1000"),
        ("0", "DATABASE_POOL_SIZE='0': expected a value from 2 to 1000"),
        ("-4", "DATABASE_POOL_SIZE='-4': expected a value from 2 to 1000"),
        ("5000", "DATABASE_POOL_SIZE='5000': expected a value from 2 to 1000"),
    ],
)
def test_an_unusable_pool_size_is_refused_naming_the_variable(raw: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"DATABASE_POOL_SIZE": raw})
    assert str(raised.value) == expected
