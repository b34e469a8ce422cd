"""One typed settings object for the gateway, read from the environment. Secrets are held here and
never logged: `describe()` prints only what is safe."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from analytics.config import Broker
from bot.stores.base import DAY_S, Retention
from bot.tracker_storage import TrackerStorageConfig

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A configuration value is present but unusable."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from exc


def _days(env: Mapping[str, str], name: str, default: float) -> int:
    days = _float(env, name, default)
    if days <= 0:
        raise SettingsError(f"{name} must be a positive number of days, got {days}")
    return int(days * DAY_S)


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _share(env: Mapping[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if not 0.0 <= value <= 1.0:
        raise SettingsError(f"{name} must be between 0 and 1, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    # One Rasa server, or several separated by commas (bot/rasa_pool.py spreads conversations).
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str | None = field(default=None, repr=False)
    rasa_timeout_s: float = 30.0
    redis_url: str | None = field(default=None, repr=False)
    redis_prefix: str = "helpdesk:"
    # The embedded default keeps the gateway's state here (SQLite); unused with REDIS_URL.
    database: str = str(ROOT / "var" / "gateway.db")
    retention: Retention = field(default_factory=Retention)
    # Where Rasa keeps its trackers (the erasure flow deletes a conversation's there too).
    tracker_store: TrackerStorageConfig | None = field(default=None, repr=False)
    # How long a stopping gateway lets conversations finish the message they are on.
    shutdown_grace_s: float = 10.0
    # Behind a reverse proxy that sets X-Forwarded-For: trust it for per-client limits.
    trust_forwarded_for: bool = False
    handoff_secret: str | None = field(default=None, repr=False)
    max_message_chars: int = 2000
    transcript_limit: int = 200
    pending_retry_interval_s: float = 5.0
    # Conversations writing a new message down (transcript, state) at the same time; the others
    # wait their turn, so in a burst the acknowledgements are not starved by that bookkeeping.
    recording_concurrency: int = 3
    webchat_session_ttl_s: int = 30 * 24 * 3600
    # When people can take handoffs (bot/availability.py); outside these hours, or with nobody
    # online when presence is required, a handoff becomes a follow-up case.
    agent_hours: str = "always"
    agent_timezone: str = "America/New_York"
    agent_presence_required: bool = False
    escalation_rules_file: str | None = None  # default: escalation.yml at the project root
    customers_api_url: str | None = None  # VIP flags for escalation; off when unset
    backend_api_token: str | None = field(default=None, repr=False)
    # Analytics (docs/analytics.md): where case events go (store: the analytics database
    # directly; pika: RabbitMQ through the stores' outbox; none), and where figures are read.
    analytics_broker: Broker = Broker.NONE
    analytics_broker_url: str | None = field(default=None, repr=False)
    analytics_db_url: str | None = field(default=None, repr=False)
    analytics_pseudonym_key: str | None = field(default=None, repr=False)
    # Share of conversations the bot closed (a goodbye) whose customer is asked for a rating.
    csat_bot_sample_rate: float = 0.2
    # GET /metrics (Prometheus) answers only with "Authorization: Bearer <this>"; off when unset.
    metrics_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        prefix = env.get("REDIS_PREFIX", cls.redis_prefix)
        rasa_prefix = (env.get("RASA_REDIS_KEY_PREFIX") or "helpdesk") + ":"
        if env.get("REDIS_URL") and env.get("RASA_TRACKER_STORE") == "redis" \
                and prefix == rasa_prefix:
            # Rasa's lock store and the gateway's locks would share <prefix>lock:<conversation>.
            raise SettingsError(f"REDIS_PREFIX {prefix!r} collides with Rasa's key prefix "
                                f"(RASA_REDIS_KEY_PREFIX); give them different values")
        return cls(
            host=env.get("GATEWAY_HOST", cls.host),
            port=_int(env, "GATEWAY_PORT", cls.port),
            rasa_url=",".join(u.strip().rstrip("/") for u in
                              env.get("RASA_URL", cls.rasa_url).split(",") if u.strip()),
            rasa_token=env.get("RASA_TOKEN") or None,
            rasa_timeout_s=_float(env, "RASA_TIMEOUT_S", cls.rasa_timeout_s),
            redis_url=env.get("REDIS_URL") or None,
            redis_prefix=prefix,
            database=env.get("GATEWAY_DB") or cls.database,
            retention=Retention(
                conversations_s=_days(env, "RETENTION_DAYS", 30),
                transcripts_s=_days(env, "RETENTION_DAYS", 30),
                cases_s=_days(env, "CASE_RETENTION_DAYS", 90),
                audit_s=_days(env, "AUDIT_RETENTION_DAYS", 365),
                journal_s=_days(env, "JOURNAL_RETENTION_DAYS", 7),
                analytics_s=_days(env, "ANALYTICS_RETENTION_DAYS", 395),
            ),
            tracker_store=TrackerStorageConfig.from_env(env),
            shutdown_grace_s=_float(env, "SHUTDOWN_GRACE_S", cls.shutdown_grace_s),
            trust_forwarded_for=_flag(env, "TRUST_FORWARDED_FOR"),
            handoff_secret=env.get("HANDOFF_SECRET") or None,
            max_message_chars=_int(env, "MAX_MESSAGE_CHARS", cls.max_message_chars),
            transcript_limit=_int(env, "TRANSCRIPT_LIMIT", cls.transcript_limit),
            pending_retry_interval_s=_float(
                env, "PENDING_RETRY_INTERVAL_S", cls.pending_retry_interval_s
            ),
            recording_concurrency=max(1, _int(env, "RECORDING_CONCURRENCY",
                                              cls.recording_concurrency)),
            webchat_session_ttl_s=_int(env, "WEBCHAT_SESSION_TTL_S", cls.webchat_session_ttl_s),
            escalation_rules_file=env.get("ESCALATION_RULES_FILE") or None,
            customers_api_url=env.get("CUSTOMERS_API_URL") or None,
            backend_api_token=env.get("BACKEND_API_TOKEN") or None,
            agent_hours=env.get("AGENT_HOURS", cls.agent_hours),
            agent_timezone=env.get("AGENT_TIMEZONE", cls.agent_timezone),
            agent_presence_required=_flag(env, "AGENT_PRESENCE_REQUIRED"),
            analytics_broker=Broker(_choice(env, "ANALYTICS_BROKER", tuple(Broker), Broker.NONE)),
            analytics_broker_url=env.get("ANALYTICS_BROKER_URL") or None,
            analytics_db_url=env.get("ANALYTICS_DB_URL") or (
                env.get("ANALYTICS_BROKER_URL") if env.get("ANALYTICS_BROKER") == Broker.STORE
                else None) or None,
            analytics_pseudonym_key=env.get("ANALYTICS_PSEUDONYM_KEY") or None,
            metrics_token=env.get("METRICS_TOKEN") or None,
            csat_bot_sample_rate=_share(env, "CSAT_BOT_SAMPLE_RATE", cls.csat_bot_sample_rate),
        )

    @property
    def rasa_urls(self) -> list[str]:
        return [u.strip().rstrip("/") for u in self.rasa_url.split(",") if u.strip()]

    def describe(self) -> str:
        store = "redis" if self.redis_url else f"sqlite {self.database}"
        handoff = "on" if self.handoff_secret else "OFF (HANDOFF_SECRET unset)"
        return (
            f"gateway http://{self.host}:{self.port} rasa={self.rasa_url} stores={store} "
            f"handoff-endpoint={handoff}"
        )
