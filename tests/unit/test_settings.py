"""Settings from the environment: retention, and configurations that cannot work refused early."""

from __future__ import annotations

import pytest

from bot.settings import Settings, SettingsError
from bot.stores.base import DAY_S


def test_retention_is_read_in_days() -> None:
    settings = Settings.from_env({"RETENTION_DAYS": "10", "CASE_RETENTION_DAYS": "0.5"})
    assert settings.retention.transcripts_s == 10 * DAY_S
    assert settings.retention.cases_s == DAY_S // 2


@pytest.mark.parametrize("days", ["0", "-3", "soon"])
def test_a_retention_that_keeps_nothing_or_is_no_number_is_refused(days: str) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env({"RETENTION_DAYS": days})


def test_the_gateway_and_rasa_may_not_share_a_redis_key_prefix() -> None:
    with pytest.raises(SettingsError, match="collides"):
        Settings.from_env({"REDIS_URL": "redis://127.0.0.1:6379/0", "RASA_TRACKER_STORE": "redis",
                           "REDIS_PREFIX": "helpdesk:", "RASA_REDIS_KEY_PREFIX": "helpdesk"})


def test_the_tracker_store_configuration_is_read_for_erasure() -> None:
    settings = Settings.from_env({"RASA_TRACKER_STORE": "sql",
                                  "RASA_TRACKER_URL": "sqlite:///var/rasa-tracker.db"})
    assert settings.tracker_store is not None and settings.tracker_store.kind == "sql"


@pytest.mark.parametrize(("value", "slots"), [(None, 3), ("8", 8), ("0", 1), ("-2", 1)])
def test_recording_concurrency_is_read_and_at_least_one(value: str | None, slots: int) -> None:
    env = {} if value is None else {"RECORDING_CONCURRENCY": value}
    assert Settings.from_env(env).recording_concurrency == slots
