"""endpoints.yml's tracker_store section, read and built by Rasa's own code: every value arrives
as a string substituted from the environment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from rasa.core.tracker_store import TrackerStore, create_tracker_store
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config

from bot.rasa_tracker_store import HelpdeskTrackerStore
from tests.tracker_store.conftest import Place

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))  # slow: once per module


@pytest.fixture(params=["set", "blank"])
async def from_endpoints(request: pytest.FixtureRequest, place: Place, domain: Domain,
                         monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TrackerStore]:
    """The store Rasa builds from endpoints.yml for the test's place; "blank" leaves the
    optional numbers empty, as a deployment that only sets the URL does."""
    blank = request.param == "blank"
    env = {
        "ACTION_ENDPOINT_URL": "http://127.0.0.1:1/webhook", "ACTION_SERVER_TOKEN": "t",
        "RASA_LOCK_STORE": "in_memory", "RASA_LOCK_URL": "127.0.0.1",
        "RASA_TRACKER_STORE": place.config.kind, "RASA_TRACKER_URL": place.config.url,
        "RASA_REDIS_PORT": "" if blank and place.kind != "redis" else str(place.config.port),
        "RASA_REDIS_DB": "" if blank and place.kind != "redis" else str(place.config.db),
        "RASA_REDIS_PASSWORD": "", "RASA_REDIS_KEY_PREFIX": place.config.key_prefix,
        "TRACKER_RETENTION_DAYS": "" if blank else "30",
        "TRACKER_CONTACT_HOURS": "" if blank else "24",
        "RASA_TRACKER_WINDOW_EVENTS": "" if blank else "120",
        "ANALYTICS_BROKER": "none", "ANALYTICS_BROKER_URL": "", "ANALYTICS_SPOOL_DIR": "",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store")
    assert config is not None
    store = create_tracker_store(config, domain)
    yield store
    if isinstance(store, HelpdeskTrackerStore):
        await store.close()


async def test_endpoints_yml_builds_our_store(from_endpoints: TrackerStore) -> None:
    # Not wrapped by Rasa's AwaitableTrackerStore: every method Rasa awaits is async.
    assert isinstance(from_endpoints, HelpdeskTrackerStore)


async def test_the_store_from_endpoints_keeps_the_secret_slot_secret(
        from_endpoints: TrackerStore, place: Place, domain: Domain) -> None:
    tracker = DialogueStateTracker.from_events("c1", [
        ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
        SlotSet("requested_slot", "deletion_code"), ActionExecuted("action_listen"),
        UserUttered("771903", intent={"name": "inform", "confidence": 0.9}),
        SlotSet("deletion_code", "771903")], domain.slots)
    for event in tracker.events:  # fixed: random timestamp digits could contain the code
        event.timestamp = 1_700_000_000.0
    await from_endpoints.save(tracker)
    retrieved = await from_endpoints.retrieve("c1")
    assert retrieved is not None and retrieved.latest_message is not None
    assert retrieved.latest_message.text == "[redacted]"
    assert "771903" not in await place.dump()


@pytest.mark.parametrize("backend", ["store", "none"])
async def test_endpoints_yml_builds_our_event_broker(backend: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa builds the event broker from endpoints.yml with its own code (a broker it cannot
    import would be dropped with only a warning: no analytics at all)."""
    from rasa.core.brokers.broker import EventBroker

    from bot.rasa_event_broker import HelpdeskEventBroker

    for name in ("ACTION_ENDPOINT_URL", "ACTION_SERVER_TOKEN", "RASA_TRACKER_STORE",
                 "RASA_TRACKER_URL", "RASA_REDIS_PORT", "RASA_REDIS_DB", "RASA_REDIS_PASSWORD",
                 "RASA_REDIS_KEY_PREFIX", "TRACKER_RETENTION_DAYS", "TRACKER_CONTACT_HOURS",
                 "RASA_TRACKER_WINDOW_EVENTS", "RASA_LOCK_STORE", "RASA_LOCK_URL",
                 "ANALYTICS_SPOOL_DIR"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("ANALYTICS_BROKER", backend)
    monkeypatch.setenv("ANALYTICS_BROKER_URL", f"sqlite:///{tmp_path / 'analytics.db'}")
    monkeypatch.setenv("ANALYTICS_PSEUDONYM_KEY", "a-test-pseudonym-key-of-some-length")
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "event_broker")
    broker = await EventBroker.create(config)
    if backend == "none":
        assert broker is None
        return
    assert isinstance(broker, HelpdeskEventBroker) and broker.backend == "store"
    await broker.close()
