"""Specification of the demo orders + identity backend, exercised over real HTTP."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import ClientSession, web
from multidict import CIMultiDictProxy

import backends
from backends.demo_seed import CUSTOMERS, ORDERS
from backends.demo_service import PUBLIC_PATHS, create_app
from backends.demo_store import (
    DELETION_CODE_TTL,
    MAX_DELETION_CODE_FAILURES,
    MAX_DELETION_REQUESTS,
    MAX_FAILED_VERIFICATIONS,
    MAX_RESET_REQUESTS,
    DeletionOutcome,
    DemoStore,
    LookupRefusal,
    Order,
    OutboxKind,
    ResetOutcome,
)

API_TOKEN = "test-token-7c1f"
OPENAPI_PATH = Path(backends.__file__).with_name("openapi.yaml")
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

JANE_EMAIL = "jane.doe@example.com"
WRONG_EMAIL = "someone.else@example.com"


# --- harness -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: CIMultiDictProxy[str]


@dataclasses.dataclass(frozen=True)
class Backend:
    """A running demo backend plus a client that talks to it over real HTTP."""

    base_url: str
    session: ClientSession
    db_path: Path
    token: str | None = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        data: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        all_headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        all_headers.update(headers or {})
        async with self.session.request(
            method, self.base_url + path, json=json, data=data, params=params, headers=all_headers
        ) as response:
            body: Any
            if response.content_type == "application/json":
                body = await response.json()
            else:
                body = await response.text()
            return Reply(response.status, body, response.headers)

    async def lookup_order(self, order_id: str, contact: str) -> Reply:
        return await self.request(
            "POST", "/v1/orders/lookup", json={"order_id": order_id, "contact": contact}
        )

    async def reset_password(self, login: str) -> Reply:
        return await self.request("POST", "/v1/password-resets", json={"login": login})

    async def lookup_customer(self, contact: str) -> Reply:
        return await self.request("GET", "/v1/customers/lookup", params={"contact": contact})

    async def outbox(self, email: str) -> list[dict[str, Any]]:
        reply = await self.request("GET", "/v1/_demo/outbox", params={"email": email})
        assert reply.status == 200, reply
        messages: list[dict[str, Any]] = reply.body["messages"]
        return messages

    async def request_deletion(self, login: str) -> Reply:
        return await self.request("POST", "/v1/account-deletions", json={"login": login})

    async def confirm_deletion(self, login: str, code: str) -> Reply:
        return await self.request(
            "POST", "/v1/account-deletions/confirm", json={"login": login, "code": code}
        )

    async def deletion_code(self, email: str) -> str:
        """The code of the newest account-deletion e-mail, read as the customer would."""
        codes = [m["code"] for m in await self.outbox(email) if m["kind"] == "account_deletion"]
        assert codes, f"no account-deletion e-mail for {email}"
        return str(codes[-1])


@asynccontextmanager
async def running_backend(db_path: Path, api_token: str | None = None) -> AsyncIterator[str]:
    """Serve the app on 127.0.0.1 with an OS-chosen port; yields the base URL."""
    runner = web.AppRunner(create_app(db_path=str(db_path), api_token=api_token))
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@dataclasses.dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "demo-backend.db"


@pytest.fixture
async def session() -> AsyncIterator[ClientSession]:
    async with ClientSession() as client:
        yield client


@pytest.fixture
async def backend(db_path: Path, session: ClientSession) -> AsyncIterator[Backend]:
    """The backend as run for local development: no API token."""
    async with running_backend(db_path) as base_url:
        yield Backend(base_url, session, db_path)


@pytest.fixture
async def secured_backend(db_path: Path, session: ClientSession) -> AsyncIterator[Backend]:
    """The backend with an API token configured; this client sends no token by default."""
    async with running_backend(db_path, api_token=API_TOKEN) as base_url:
        yield Backend(base_url, session, db_path)


def utc_today() -> date:
    # The service resolves demo dates against the UTC date, so the tests must as well.
    return datetime.now(UTC).date()


def day(offset: int, today: date | None = None) -> str:
    return ((today or utc_today()) + timedelta(days=offset)).isoformat()


def count_rows(db_path: Path, table: str) -> int:
    with closing(sqlite3.connect(db_path)) as conn:
        (count,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(count)


def assert_error(reply: Reply, status: int, code: str) -> None:
    assert reply.status == status, reply
    assert reply.headers["Content-Type"].startswith("application/json")
    assert set(reply.body) == {"error", "message"}, reply.body
    assert reply.body["error"] == code
    assert isinstance(reply.body["message"], str)
    assert reply.body["message"]


def app_routes() -> set[tuple[str, str]]:
    """(method, path) for every route the app serves; HEAD is implied by GET."""
    app = create_app(db_path=":memory:")
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }


def load_openapi() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    return spec


def iter_refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from iter_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from iter_refs(value)


def expected_order(order_id: str) -> dict[str, object]:
    no_shipping = {"carrier": None, "tracking_number": None, "tracking_url": None}
    orders: dict[str, dict[str, object]] = {
        "482913": {
            "status": "shipped",
            "placed_at": day(-3),
            "items": [{"name": "Merino wool jacket", "quantity": 1}],
            "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
            "expected_delivery": day(2),
            "delivered_at": None,
            "status_note": None,
        },
        "482914": {
            "status": "processing",
            "placed_at": day(-1),
            "items": [{"name": "Ceramic mug set", "quantity": 2}],
            **no_shipping,
            "expected_delivery": day(5),
            "delivered_at": None,
            "status_note": None,
        },
        "482915": {
            "status": "delivered",
            "placed_at": day(-10),
            "items": [{"name": "Desk lamp", "quantity": 1}],
            "carrier": "USPS",
            "tracking_number": "9400111899223344556677",
            "tracking_url": (
                "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223344556677"
            ),
            "expected_delivery": None,
            "delivered_at": day(-3),
            "status_note": None,
        },
        "482916": {
            "status": "cancelled",
            "placed_at": day(-8),
            "items": [{"name": "Noise-cancelling headphones", "quantity": 1}],
            **no_shipping,
            "expected_delivery": None,
            "delivered_at": None,
            "status_note": "Cancelled at the customer's request; refund issued.",
        },
        "482917": {
            "status": "delayed",
            "placed_at": day(-9),
            "items": [{"name": "Espresso machine", "quantity": 1}],
            "carrier": "DHL",
            "tracking_number": "JD014600006281234567",
            "tracking_url": (
                "https://www.dhl.com/en/express/tracking.html?AWB=JD014600006281234567"
            ),
            "expected_delivery": day(6),
            "delivered_at": None,
            "status_note": "Held up at customs; the carrier expects to release it soon.",
        },
        "482918": {
            "status": "shipped",
            "placed_at": day(-2),
            "items": [
                {"name": "Running shoes", "quantity": 1},
                {"name": "Sports socks", "quantity": 3},
            ],
            "carrier": "FedEx",
            "tracking_number": "771234567890",
            "tracking_url": "https://www.fedex.com/fedextrack/?trknbr=771234567890",
            "expected_delivery": day(1),
            "delivered_at": None,
            "status_note": None,
        },
    }
    return {"order_id": order_id, **orders[order_id]}


# --- order lookup ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_id", "contact"),
    [
        pytest.param("482913", JANE_EMAIL, id="shipped"),
        pytest.param("482914", JANE_EMAIL, id="processing"),
        pytest.param("482915", JANE_EMAIL, id="delivered"),
        pytest.param("482916", "omar@example.org", id="cancelled"),
        pytest.param("482917", "omar@example.org", id="delayed"),
        pytest.param("482918", "li.wei@example.net", id="shipped-two-items"),
    ],
)
async def test_matching_contact_returns_the_order(
    backend: Backend, order_id: str, contact: str
) -> None:
    reply = await backend.lookup_order(order_id, contact)

    assert reply.status == 200
    assert reply.body == expected_order(order_id)


@pytest.mark.parametrize(
    "contact",
    [
        "jane.doe@example.com",
        "Jane.Doe@Example.COM",
        "  jane.doe@example.com  ",
        "\tJANE.DOE@EXAMPLE.COM\n",
    ],
)
async def test_email_verification_ignores_case_and_surrounding_whitespace(
    backend: Backend, contact: str
) -> None:
    reply = await backend.lookup_order("482913", contact)

    assert reply.status == 200
    assert reply.body["order_id"] == "482913"


@pytest.mark.parametrize(
    ("order_id", "contact"),
    [
        ("482913", "+1 555 010 0001"),
        ("482913", "+1 (555) 010-0001"),
        ("482913", "5550100001"),
        ("482913", "555.010.0001"),
        ("482913", "001-555-010-0001"),
        ("482916", "+44 7700 900123"),
        ("482916", "07700 900123"),
        ("482916", "447700900123"),
    ],
)
async def test_phone_verification_compares_the_last_ten_digits(
    backend: Backend, order_id: str, contact: str
) -> None:
    reply = await backend.lookup_order(order_id, contact)

    assert reply.status == 200
    assert reply.body["order_id"] == order_id


@pytest.mark.parametrize(
    "contact",
    [
        pytest.param("li.wei@example.net", id="another-customers-email"),
        pytest.param("+1 555 010 0003", id="another-customers-phone"),
        pytest.param("jane.doe@example.co", id="near-miss-email"),
        pytest.param("+1 555 010 0002", id="near-miss-phone"),
        pytest.param("010 0001", id="too-few-digits"),
        pytest.param("janedoe", id="username-is-not-a-contact"),
    ],
)
async def test_wrong_contact_is_refused_without_revealing_the_order(
    backend: Backend, contact: str
) -> None:
    reply = await backend.lookup_order("482913", contact)

    assert_error(reply, 403, "verification_failed")
    raw = json.dumps(reply.body)
    for detail in ("UPS", "1Z999AA10123456784", "Merino", "shipped", "Jane"):
        assert detail not in raw


async def test_unknown_order_is_not_found(backend: Backend) -> None:
    reply = await backend.lookup_order("999999", JANE_EMAIL)

    assert_error(reply, 404, "order_not_found")


def _body(value: object) -> bytes:
    return json.dumps(value).encode()


@pytest.mark.parametrize(
    "raw_body",
    [
        pytest.param(b"", id="empty-body"),
        pytest.param(b"{not json", id="malformed-json"),
        pytest.param(b"\xff\xfe\x00", id="undecodable-bytes"),
        pytest.param(_body([]), id="array"),
        pytest.param(_body("482913"), id="string"),
        pytest.param(_body(None), id="null"),
        pytest.param(_body({"contact": JANE_EMAIL}), id="missing-order-id"),
        pytest.param(_body({"order_id": "48291", "contact": JANE_EMAIL}), id="five-digits"),
        pytest.param(_body({"order_id": "4829130", "contact": JANE_EMAIL}), id="seven-digits"),
        pytest.param(_body({"order_id": "48291a", "contact": JANE_EMAIL}), id="letter"),
        pytest.param(_body({"order_id": " 482913", "contact": JANE_EMAIL}), id="unnormalized"),
        pytest.param(
            _body({"order_id": "\uff14\uff18\uff12\uff19\uff11\uff13", "contact": JANE_EMAIL}),
            id="fullwidth",
        ),
        pytest.param(_body({"order_id": 482913, "contact": JANE_EMAIL}), id="number"),
        pytest.param(_body({"order_id": "482913"}), id="missing-contact"),
        pytest.param(_body({"order_id": "482913", "contact": ""}), id="empty-contact"),
        pytest.param(_body({"order_id": "482913", "contact": "   "}), id="blank-contact"),
        pytest.param(_body({"order_id": "482913", "contact": None}), id="null-contact"),
        pytest.param(_body({"order_id": "482913", "contact": 5550100001}), id="numeric-contact"),
        pytest.param(
            _body({"order_id": "482913", "contact": "x" * 321 + "@example.com"}),
            id="overlong-contact",
        ),
    ],
)
async def test_malformed_order_lookup_is_rejected(backend: Backend, raw_body: bytes) -> None:
    reply = await backend.request(
        "POST",
        "/v1/orders/lookup",
        data=raw_body,
        headers={"Content-Type": "application/json"},
    )

    assert_error(reply, 400, "invalid_request")


async def test_order_is_locked_after_too_many_failed_verifications(backend: Backend) -> None:
    for _ in range(MAX_FAILED_VERIFICATIONS):
        assert (await backend.lookup_order("482913", WRONG_EMAIL)).status == 403

    reply = await backend.lookup_order("482913", WRONG_EMAIL)

    assert MAX_FAILED_VERIFICATIONS == 10
    assert_error(reply, 429, "too_many_attempts")


async def test_locked_order_refuses_even_the_right_contact(backend: Backend) -> None:
    # Otherwise a guesser could keep going and spot the right answer by its different reply.
    for _ in range(MAX_FAILED_VERIFICATIONS):
        await backend.lookup_order("482913", WRONG_EMAIL)

    reply = await backend.lookup_order("482913", JANE_EMAIL)

    assert_error(reply, 429, "too_many_attempts")


async def test_lockout_applies_per_order(backend: Backend) -> None:
    for _ in range(MAX_FAILED_VERIFICATIONS):
        await backend.lookup_order("482913", WRONG_EMAIL)

    reply = await backend.lookup_order("482914", JANE_EMAIL)

    assert reply.status == 200


async def test_successful_lookups_do_not_count_towards_the_lockout(backend: Backend) -> None:
    for _ in range(MAX_FAILED_VERIFICATIONS + 5):
        assert (await backend.lookup_order("482913", JANE_EMAIL)).status == 200


async def test_failed_verifications_expire_after_an_hour(db_path: Path) -> None:
    clock = FakeClock(datetime(2030, 1, 1, 12, 0, tzinfo=UTC))
    store = await DemoStore.open(str(db_path), clock=clock)
    try:
        for _ in range(MAX_FAILED_VERIFICATIONS):
            await store.lookup_order("482913", WRONG_EMAIL)
        locked = await store.lookup_order("482913", JANE_EMAIL)

        clock.advance(timedelta(hours=1, seconds=1))
        unlocked = await store.lookup_order("482913", JANE_EMAIL)
    finally:
        await store.close()

    assert locked is LookupRefusal.TOO_MANY_ATTEMPTS
    assert isinstance(unlocked, Order)


async def test_lockout_survives_a_restart(db_path: Path, session: ClientSession) -> None:
    async with running_backend(db_path) as base_url:
        before = Backend(base_url, session, db_path)
        for _ in range(MAX_FAILED_VERIFICATIONS):
            await before.lookup_order("482913", WRONG_EMAIL)

    async with running_backend(db_path) as base_url:
        reply = await Backend(base_url, session, db_path).lookup_order("482913", JANE_EMAIL)

    assert_error(reply, 429, "too_many_attempts")


async def test_order_dates_are_relative_to_the_day_they_are_read(db_path: Path) -> None:
    seeded_on = FakeClock(datetime(2030, 1, 1, 12, 0, tzinfo=UTC))
    store = await DemoStore.open(str(db_path), clock=seeded_on)
    await store.close()

    a_year_later = FakeClock(datetime(2031, 1, 1, 12, 0, tzinfo=UTC))
    store = await DemoStore.open(str(db_path), clock=a_year_later)
    try:
        order = await store.lookup_order("482913", JANE_EMAIL)
    finally:
        await store.close()

    assert isinstance(order, Order)
    assert order.placed_at == date(2030, 12, 29)
    assert order.expected_delivery == date(2031, 1, 3)


# --- password resets ---------------------------------------------------------------------------


async def test_password_reset_replies_identically_for_known_and_unknown_logins(
    backend: Backend,
) -> None:
    known = await backend.reset_password("janedoe")
    unknown = await backend.reset_password("nobody@example.com")

    assert known.status == unknown.status == 202
    assert known.body == unknown.body == {"status": "accepted"}
    assert known.headers["Content-Type"] == unknown.headers["Content-Type"]


@pytest.mark.parametrize(
    "login",
    ["jane.doe@example.com", "  JANE.DOE@Example.com ", "janedoe", "JaneDoe"],
)
async def test_password_reset_queues_an_email_for_a_known_account(
    backend: Backend, login: str
) -> None:
    await backend.reset_password(login)

    messages = await backend.outbox(JANE_EMAIL)

    assert [m["email"] for m in messages] == [JANE_EMAIL]
    created_at = datetime.fromisoformat(messages[0]["created_at"])
    assert abs(datetime.now(UTC) - created_at) < timedelta(minutes=1)


@pytest.mark.parametrize("login", ["nobody@example.com", "nobody", "jane.doe@example"])
async def test_password_reset_for_an_unknown_login_queues_nothing(
    backend: Backend, login: str
) -> None:
    reply = await backend.reset_password(login)

    assert reply.status == 202
    assert await backend.outbox("nobody@example.com") == []
    assert count_rows(backend.db_path, "password_reset_outbox") == 0


async def test_password_reset_stores_only_a_digest_of_the_token(backend: Backend) -> None:
    await backend.reset_password("janedoe")

    with closing(sqlite3.connect(backend.db_path)) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM password_reset_outbox").fetchall()

    assert len(rows) == 1
    assert set(rows[0].keys()) == {"id", "customer_id", "email", "token_sha256", "created_at"}
    assert re.fullmatch(r"[0-9a-f]{64}", rows[0]["token_sha256"])


@pytest.mark.parametrize("login", ["janedoe", "nobody@example.com"], ids=["known", "unknown"])
async def test_password_resets_are_rate_limited_per_login(backend: Backend, login: str) -> None:
    for _ in range(MAX_RESET_REQUESTS):
        assert (await backend.reset_password(login)).status == 202

    reply = await backend.reset_password(login)

    assert MAX_RESET_REQUESTS == 5
    assert_error(reply, 429, "too_many_attempts")


async def test_reset_rate_limit_ignores_case_and_surrounding_whitespace(backend: Backend) -> None:
    for _ in range(MAX_RESET_REQUESTS):
        await backend.reset_password("JaneDoe")

    reply = await backend.reset_password("  janedoe ")

    assert_error(reply, 429, "too_many_attempts")


async def test_reset_rate_limit_does_not_affect_other_logins(backend: Backend) -> None:
    for _ in range(MAX_RESET_REQUESTS):
        await backend.reset_password("janedoe")

    reply = await backend.reset_password("omarh")

    assert reply.status == 202


async def test_rate_limited_reset_requests_queue_no_email(backend: Backend) -> None:
    for _ in range(MAX_RESET_REQUESTS + 2):
        await backend.reset_password("janedoe")

    assert len(await backend.outbox(JANE_EMAIL)) == MAX_RESET_REQUESTS


async def test_reset_requests_expire_after_an_hour(db_path: Path) -> None:
    clock = FakeClock(datetime(2030, 1, 1, 12, 0, tzinfo=UTC))
    store = await DemoStore.open(str(db_path), clock=clock)
    try:
        for _ in range(MAX_RESET_REQUESTS):
            await store.request_password_reset("nobody")
        limited = await store.request_password_reset("nobody")

        clock.advance(timedelta(hours=1, seconds=1))
        accepted = await store.request_password_reset("nobody")
    finally:
        await store.close()

    assert limited is ResetOutcome.TOO_MANY_ATTEMPTS
    assert accepted is ResetOutcome.ACCEPTED


@pytest.mark.parametrize(
    "raw_body",
    [
        pytest.param(b"", id="empty-body"),
        pytest.param(b"login=janedoe", id="form-encoded"),
        pytest.param(_body(["janedoe"]), id="array"),
        pytest.param(_body({}), id="missing-login"),
        pytest.param(_body({"login": ""}), id="empty-login"),
        pytest.param(_body({"login": "   "}), id="blank-login"),
        pytest.param(_body({"login": None}), id="null-login"),
        pytest.param(_body({"login": 42}), id="numeric-login"),
    ],
)
async def test_malformed_password_reset_is_rejected(backend: Backend, raw_body: bytes) -> None:
    reply = await backend.request(
        "POST",
        "/v1/password-resets",
        data=raw_body,
        headers={"Content-Type": "application/json"},
    )

    assert_error(reply, 400, "invalid_request")


# --- account deletion --------------------------------------------------------------------------

JANE_PII = ("Jane Doe", "jane.doe@example.com", "janedoe", "+1 555 010 0001", "5550100001")


def database_text(db_path: Path) -> str:
    """Every value of every table, as one string (to prove what is no longer anywhere)."""
    with closing(sqlite3.connect(db_path)) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        values = [
            str(value)
            for table in tables
            for row in conn.execute(f"SELECT * FROM {table}")
            for value in row
        ]
    return "\n".join(values)


async def deleted_jane(backend: Backend) -> Reply:
    await backend.request_deletion(JANE_EMAIL)
    return await backend.confirm_deletion(JANE_EMAIL, await backend.deletion_code(JANE_EMAIL))


async def test_deletion_request_replies_identically_for_known_and_unknown_logins(
    backend: Backend,
) -> None:
    known = await backend.request_deletion(JANE_EMAIL)
    unknown = await backend.request_deletion("nobody@example.com")

    assert known.status == unknown.status == 202
    assert known.body == unknown.body == {"status": "accepted"}


@pytest.mark.parametrize("login", ["jane.doe@example.com", "  JANE.DOE@Example.com ", "janedoe"])
async def test_deletion_request_emails_a_six_digit_code_to_the_account(
    backend: Backend, login: str
) -> None:
    await backend.request_deletion(login)

    messages = await backend.outbox(JANE_EMAIL)

    assert [(m["kind"], m["email"]) for m in messages] == [("account_deletion", JANE_EMAIL)]
    assert re.fullmatch(r"[0-9]{6}", messages[0]["code"])


@pytest.mark.parametrize("login", ["nobody@example.com", "nobody"])
async def test_deletion_request_for_an_unknown_login_emails_nothing(
    backend: Backend, login: str
) -> None:
    await backend.request_deletion(login)

    assert count_rows(backend.db_path, "account_deletion_outbox") == 0
    assert count_rows(backend.db_path, "account_deletion_codes") == 0


async def test_deletion_codes_are_stored_only_as_a_digest(backend: Backend) -> None:
    await backend.request_deletion(JANE_EMAIL)
    code = await backend.deletion_code(JANE_EMAIL)

    with closing(sqlite3.connect(backend.db_path)) as conn:
        rows = conn.execute("SELECT * FROM account_deletion_codes").fetchall()

    assert len(rows) == 1
    assert code not in json.dumps(rows)


@pytest.mark.parametrize("login", ["janedoe", "nobody@example.com"], ids=["known", "unknown"])
async def test_deletion_requests_are_rate_limited_per_login(backend: Backend, login: str) -> None:
    for _ in range(MAX_DELETION_REQUESTS):
        assert (await backend.request_deletion(login)).status == 202

    reply = await backend.request_deletion(login)

    assert MAX_DELETION_REQUESTS == 5
    assert_error(reply, 429, "too_many_attempts")


async def test_rate_limited_deletion_requests_email_nothing(backend: Backend) -> None:
    for _ in range(MAX_DELETION_REQUESTS + 2):
        await backend.request_deletion(" JaneDoe")

    assert len(await backend.outbox(JANE_EMAIL)) == MAX_DELETION_REQUESTS


async def test_deletion_requests_expire_after_an_hour(db_path: Path) -> None:
    clock = FakeClock(datetime(2030, 1, 1, 12, 0, tzinfo=UTC))
    store = await DemoStore.open(str(db_path), clock=clock)
    try:
        for _ in range(MAX_DELETION_REQUESTS):
            await store.request_account_deletion("nobody")
        limited = await store.request_account_deletion("nobody")

        clock.advance(timedelta(hours=1, seconds=1))
        accepted = await store.request_account_deletion("nobody")
    finally:
        await store.close()

    assert limited.value == "too_many_attempts"
    assert accepted.value == "accepted"


async def test_the_right_code_deletes_the_account(backend: Backend) -> None:
    reply = await deleted_jane(backend)

    assert reply.status == 200
    assert reply.body == {"status": "deleted"}


@pytest.mark.parametrize("login", ["JANE.DOE@EXAMPLE.COM", "janedoe"])
async def test_the_code_works_with_any_spelling_of_the_login(backend: Backend, login: str) -> None:
    await backend.request_deletion(JANE_EMAIL)

    reply = await backend.confirm_deletion(login, await backend.deletion_code(JANE_EMAIL))

    assert reply.status == 200


async def test_a_deleted_account_is_no_longer_found(backend: Backend) -> None:
    await deleted_jane(backend)

    reply = await backend.lookup_customer(JANE_EMAIL)

    assert_error(reply, 404, "customer_not_found")


@pytest.mark.parametrize("contact", [JANE_EMAIL, "+1 555 010 0001"])
@pytest.mark.parametrize("order_id", ["482913", "482914", "482915"])
async def test_orders_of_a_deleted_account_no_longer_carry_its_contact_details(
    backend: Backend, order_id: str, contact: str
) -> None:
    await deleted_jane(backend)

    reply = await backend.lookup_order(order_id, contact)

    assert_error(reply, 403, "verification_failed")


async def test_orders_of_a_deleted_account_are_kept_for_bookkeeping(backend: Backend) -> None:
    await deleted_jane(backend)

    assert count_rows(backend.db_path, "orders") == len(ORDERS)


async def test_nothing_in_the_database_names_a_deleted_customer(backend: Backend) -> None:
    await backend.reset_password("janedoe")
    await backend.lookup_order("482913", "jane.doe@example.co")
    await deleted_jane(backend)

    text = database_text(backend.db_path)

    for value in JANE_PII:
        assert value not in text


async def test_a_deleted_account_gets_no_more_emails(backend: Backend) -> None:
    await deleted_jane(backend)

    await backend.reset_password(JANE_EMAIL)
    await backend.request_deletion(JANE_EMAIL)

    assert await backend.outbox(JANE_EMAIL) == []
    assert count_rows(backend.db_path, "password_reset_outbox") == 0
    assert count_rows(backend.db_path, "account_deletion_outbox") == 0


async def test_deleting_one_account_leaves_the_others_alone(backend: Backend) -> None:
    await deleted_jane(backend)

    assert (await backend.lookup_customer("omar@example.org")).body == OMAR
    assert (await backend.lookup_order("482918", "li.wei@example.net")).status == 200


async def test_a_deleted_account_stays_deleted_after_a_restart(
    db_path: Path, session: ClientSession
) -> None:
    async with running_backend(db_path) as base_url:
        await deleted_jane(Backend(base_url, session, db_path))

    async with running_backend(db_path) as base_url:
        reply = await Backend(base_url, session, db_path).lookup_customer(JANE_EMAIL)

    assert_error(reply, 404, "customer_not_found")


async def test_a_wrong_code_is_refused_and_deletes_nothing(backend: Backend) -> None:
    await backend.request_deletion(JANE_EMAIL)
    right = await backend.deletion_code(JANE_EMAIL)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    reply = await backend.confirm_deletion(JANE_EMAIL, wrong)

    assert_error(reply, 403, "invalid_code")
    assert (await backend.lookup_customer(JANE_EMAIL)).status == 200


async def test_a_code_works_only_once(backend: Backend) -> None:
    await backend.request_deletion(JANE_EMAIL)
    code = await backend.deletion_code(JANE_EMAIL)
    await backend.confirm_deletion(JANE_EMAIL, code)

    reply = await backend.confirm_deletion(JANE_EMAIL, code)

    assert_error(reply, 403, "invalid_code")


async def test_a_new_request_replaces_the_previous_code(db_path: Path) -> None:
    codes = iter(["111111", "222222"])
    store = await DemoStore.open(str(db_path), new_code=lambda: next(codes))
    try:
        await store.request_account_deletion(JANE_EMAIL)
        await store.request_account_deletion(JANE_EMAIL)

        stale = await store.confirm_account_deletion(JANE_EMAIL, "111111")
        fresh = await store.confirm_account_deletion(JANE_EMAIL, "222222")
    finally:
        await store.close()

    assert (stale, fresh) == (DeletionOutcome.REFUSED, DeletionOutcome.DELETED)


@pytest.mark.parametrize(
    ("wrong_tries", "status"),
    [(MAX_DELETION_CODE_FAILURES - 1, 200), (MAX_DELETION_CODE_FAILURES, 403)],
    ids=["one-try-left", "burnt"],
)
async def test_a_code_is_burnt_after_five_wrong_tries(
    backend: Backend, wrong_tries: int, status: int
) -> None:
    await backend.request_deletion(JANE_EMAIL)
    right = await backend.deletion_code(JANE_EMAIL)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(wrong_tries):
        await backend.confirm_deletion(JANE_EMAIL, wrong)

    reply = await backend.confirm_deletion(JANE_EMAIL, right)

    assert MAX_DELETION_CODE_FAILURES == 5
    assert reply.status == status


@pytest.mark.parametrize(
    ("age", "outcome"),
    [
        (DELETION_CODE_TTL - timedelta(seconds=1), DeletionOutcome.DELETED),
        (DELETION_CODE_TTL, DeletionOutcome.REFUSED),
    ],
    ids=["fresh", "expired"],
)
async def test_a_code_expires_after_ten_minutes(
    db_path: Path, age: timedelta, outcome: DeletionOutcome
) -> None:
    clock = FakeClock(datetime(2030, 1, 1, 12, 0, tzinfo=UTC))
    store = await DemoStore.open(str(db_path), clock=clock)
    try:
        await store.request_account_deletion(JANE_EMAIL)
        (message,) = await store.outbox_for(JANE_EMAIL)
        assert message.kind is OutboxKind.ACCOUNT_DELETION and message.code is not None
        clock.advance(age)

        result = await store.confirm_account_deletion(JANE_EMAIL, message.code)
    finally:
        await store.close()

    assert DELETION_CODE_TTL == timedelta(minutes=10)
    assert result is outcome


async def _refusal(backend: Backend, reason: str) -> Reply:
    if reason == "unknown-login":
        await backend.request_deletion("nobody@example.com")
        return await backend.confirm_deletion("nobody@example.com", "123456")
    if reason == "no-code-requested":
        return await backend.confirm_deletion(JANE_EMAIL, "123456")
    await backend.request_deletion(JANE_EMAIL)
    right = await backend.deletion_code(JANE_EMAIL)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    if reason == "wrong":
        return await backend.confirm_deletion(JANE_EMAIL, wrong)
    if reason == "burnt":
        for _ in range(MAX_DELETION_CODE_FAILURES):
            await backend.confirm_deletion(JANE_EMAIL, wrong)
        return await backend.confirm_deletion(JANE_EMAIL, right)
    assert reason == "used"
    await backend.confirm_deletion(JANE_EMAIL, right)
    return await backend.confirm_deletion(JANE_EMAIL, right)


@pytest.mark.parametrize("reason", ["wrong", "burnt", "used", "unknown-login", "no-code-requested"])
async def test_every_refusal_looks_the_same(backend: Backend, reason: str) -> None:
    reply = await _refusal(backend, reason)

    assert_error(reply, 403, "invalid_code")
    assert reply.body == {"error": "invalid_code", "message": "The code is not valid for this login."}


@pytest.mark.parametrize(
    ("path", "raw_body"),
    [
        pytest.param("/v1/account-deletions", b"", id="request-empty-body"),
        pytest.param("/v1/account-deletions", _body(["janedoe"]), id="request-array"),
        pytest.param("/v1/account-deletions", _body({}), id="request-missing-login"),
        pytest.param("/v1/account-deletions", _body({"login": "  "}), id="request-blank-login"),
        pytest.param("/v1/account-deletions", _body({"login": 7}), id="request-numeric-login"),
        pytest.param("/v1/account-deletions/confirm", b"{", id="confirm-malformed-json"),
        pytest.param("/v1/account-deletions/confirm", _body({"code": "123456"}), id="confirm-missing-login"),
        pytest.param(
            "/v1/account-deletions/confirm", _body({"login": "janedoe"}), id="confirm-missing-code"
        ),
        pytest.param(
            "/v1/account-deletions/confirm",
            _body({"login": "janedoe", "code": 123456}),
            id="confirm-numeric-code",
        ),
        pytest.param(
            "/v1/account-deletions/confirm",
            _body({"login": "janedoe", "code": " "}),
            id="confirm-blank-code",
        ),
        pytest.param(
            "/v1/account-deletions/confirm",
            _body({"login": "janedoe", "code": "1" * 65}),
            id="confirm-overlong-code",
        ),
    ],
)
async def test_malformed_deletion_calls_are_rejected(
    backend: Backend, path: str, raw_body: bytes
) -> None:
    reply = await backend.request(
        "POST", path, data=raw_body, headers={"Content-Type": "application/json"}
    )

    assert_error(reply, 400, "invalid_request")


async def test_malformed_confirmations_do_not_count_as_wrong_tries(backend: Backend) -> None:
    await backend.request_deletion(JANE_EMAIL)
    for _ in range(MAX_DELETION_CODE_FAILURES):
        await backend.request("POST", "/v1/account-deletions/confirm", json={"login": JANE_EMAIL, "code": 1})

    reply = await backend.confirm_deletion(JANE_EMAIL, await backend.deletion_code(JANE_EMAIL))

    assert reply.status == 200


# --- customers and the demo outbox -------------------------------------------------------------

JANE = {
    "customer_id": "C001",
    "name": "Jane Doe",
    "email": "jane.doe@example.com",
    "vip": False,
    "tier": "standard",
}
OMAR = {
    "customer_id": "C002",
    "name": "Omar Haddad",
    "email": "omar@example.org",
    "vip": True,
    "tier": "gold",
}
LI = {
    "customer_id": "C003",
    "name": "Li Wei",
    "email": "li.wei@example.net",
    "vip": False,
    "tier": "standard",
}


@pytest.mark.parametrize(
    ("contact", "customer"),
    [
        ("jane.doe@example.com", JANE),
        (" JANE.DOE@EXAMPLE.COM ", JANE),
        ("+1 (555) 010-0001", JANE),
        ("omar@example.org", OMAR),
        ("+44 7700 900123", OMAR),
        ("07700900123", OMAR),
        ("li.wei@example.net", LI),
        ("555 010 0003", LI),
    ],
)
async def test_customer_lookup_finds_the_customer_by_email_or_phone(
    backend: Backend, contact: str, customer: dict[str, object]
) -> None:
    reply = await backend.lookup_customer(contact)

    assert reply.status == 200
    assert reply.body == customer


@pytest.mark.parametrize("contact", ["nobody@example.com", "+1 555 999 9999", "0100001", "janedoe"])
async def test_customer_lookup_of_an_unknown_contact_is_not_found(
    backend: Backend, contact: str
) -> None:
    reply = await backend.lookup_customer(contact)

    assert_error(reply, 404, "customer_not_found")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        pytest.param("/v1/customers/lookup", {}, id="customers-missing-contact"),
        pytest.param("/v1/customers/lookup", {"contact": " "}, id="customers-blank-contact"),
        pytest.param("/v1/_demo/outbox", {}, id="outbox-missing-email"),
        pytest.param("/v1/_demo/outbox", {"email": ""}, id="outbox-empty-email"),
    ],
)
async def test_lookups_without_a_query_value_are_rejected(
    backend: Backend, path: str, params: dict[str, str]
) -> None:
    reply = await backend.request("GET", path, params=params)

    assert_error(reply, 400, "invalid_request")


# --- authentication ----------------------------------------------------------------------------

PROTECTED_ROUTES = sorted(route for route in app_routes() if route[1] not in PUBLIC_PATHS)


@pytest.mark.parametrize(("method", "path"), PROTECTED_ROUTES)
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"Authorization": "Bearer wrong-token"}, id="wrong-token"),
        pytest.param({"Authorization": f"Bearer {API_TOKEN}x"}, id="token-prefix-match"),
        pytest.param({"Authorization": f"Basic {API_TOKEN}"}, id="wrong-scheme"),
        pytest.param({"Authorization": API_TOKEN}, id="no-scheme"),
        pytest.param({"Authorization": "Bearer "}, id="empty-token"),
    ],
)
async def test_protected_routes_require_the_bearer_token(
    secured_backend: Backend, method: str, path: str, headers: dict[str, str]
) -> None:
    reply = await secured_backend.request(method.upper(), path, headers=headers)

    assert_error(reply, 401, "unauthorized")
    assert reply.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("method", "path", "body", "params", "status"),
    [
        ("POST", "/v1/orders/lookup", {"order_id": "482913", "contact": JANE_EMAIL}, None, 200),
        ("POST", "/v1/password-resets", {"login": "janedoe"}, None, 202),
        ("POST", "/v1/account-deletions", {"login": "janedoe"}, None, 202),
        # A wrong code gets past authentication to the code check.
        ("POST", "/v1/account-deletions/confirm", {"login": "janedoe", "code": "x"}, None, 403),
        ("GET", "/v1/customers/lookup", None, {"contact": JANE_EMAIL}, 200),
        ("GET", "/v1/_demo/outbox", None, {"email": JANE_EMAIL}, 200),
    ],
)
async def test_protected_routes_accept_the_bearer_token(
    secured_backend: Backend,
    method: str,
    path: str,
    body: object,
    params: dict[str, str] | None,
    status: int,
) -> None:
    client = dataclasses.replace(secured_backend, token=API_TOKEN)

    reply = await client.request(method, path, json=body, params=params)

    assert reply.status == status


async def test_health_is_open_when_a_token_is_set(secured_backend: Backend) -> None:
    reply = await secured_backend.request("GET", "/healthz")

    assert reply.status == 200
    assert reply.body == {"status": "ok"}


async def test_openapi_document_is_open_when_a_token_is_set(secured_backend: Backend) -> None:
    reply = await secured_backend.request("GET", "/openapi.yaml")

    assert reply.status == 200


async def test_v1_routes_are_open_when_no_token_is_configured(backend: Backend) -> None:
    reply = await backend.lookup_customer(JANE_EMAIL)

    assert reply.status == 200


@pytest.mark.parametrize("token", ["", "   "])
def test_a_blank_token_is_a_configuration_error(db_path: Path, token: str) -> None:
    # Silently treating it as "no auth" would expose the API when an env var is half-set.
    with pytest.raises(ValueError, match="api_token"):
        create_app(db_path=str(db_path), api_token=token)


# --- general HTTP behaviour --------------------------------------------------------------------


async def test_health_reports_ok(backend: Backend) -> None:
    reply = await backend.request("GET", "/healthz")

    assert reply.status == 200
    assert reply.body == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path", "data", "status", "code"),
    [
        pytest.param("GET", "/no-such-route", None, 404, "not_found", id="unknown-route"),
        pytest.param("POST", "/healthz", None, 405, "method_not_allowed", id="wrong-method"),
        pytest.param(
            "POST",
            "/v1/orders/lookup",
            b'{"order_id": "482913", "contact": "' + b"x" * 20_000 + b'"}',
            413,
            "payload_too_large",
            id="oversized-body",
        ),
        pytest.param(
            "POST",
            "/v1/account-deletions/confirm",
            b'{"login": "janedoe", "code": "' + b"1" * 20_000 + b'"}',
            413,
            "payload_too_large",
            id="oversized-deletion-confirmation",
        ),
    ],
)
async def test_framework_errors_use_the_json_error_shape(
    backend: Backend, method: str, path: str, data: bytes | None, status: int, code: str
) -> None:
    reply = await backend.request(method, path, data=data)

    assert_error(reply, status, code)


# --- persistence -------------------------------------------------------------------------------


async def test_seeding_twice_does_not_duplicate_data(db_path: Path, session: ClientSession) -> None:
    async with running_backend(db_path):
        pass

    async with running_backend(db_path) as base_url:
        reply = await Backend(base_url, session, db_path).lookup_order(
            "482918", "li.wei@example.net"
        )

    assert reply.body["items"] == expected_order("482918")["items"]
    assert count_rows(db_path, "customers") == len(CUSTOMERS)
    assert count_rows(db_path, "orders") == len(ORDERS)
    assert count_rows(db_path, "order_items") == sum(len(o.items) for o in ORDERS)


async def test_queued_reset_emails_survive_a_restart(db_path: Path, session: ClientSession) -> None:
    async with running_backend(db_path) as base_url:
        await Backend(base_url, session, db_path).reset_password("omarh")

    async with running_backend(db_path) as base_url:
        messages = await Backend(base_url, session, db_path).outbox("omar@example.org")

    assert [m["email"] for m in messages] == ["omar@example.org"]


async def test_database_runs_in_wal_mode(backend: Backend) -> None:
    with closing(sqlite3.connect(backend.db_path)) as conn:
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()

    assert mode == "wal"


async def test_missing_database_directory_is_created(
    tmp_path: Path, session: ClientSession
) -> None:
    db_path = tmp_path / "var" / "nested" / "demo-backend.db"

    async with running_backend(db_path) as base_url:
        reply = await Backend(base_url, session, db_path).lookup_customer(JANE_EMAIL)

    assert reply.status == 200
    assert db_path.is_file()


# --- OpenAPI description -----------------------------------------------------------------------


async def test_served_openapi_document_is_the_packaged_yaml(backend: Backend) -> None:
    reply = await backend.request("GET", "/openapi.yaml")

    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(reply.body) == load_openapi()


def test_openapi_document_is_openapi_3_0() -> None:
    spec = load_openapi()

    assert spec["openapi"].startswith("3.0.")
    assert spec["info"]["title"]
    assert spec["info"]["version"]


def test_openapi_documents_exactly_the_routes_the_app_serves() -> None:
    documented = {
        (method, path)
        for path, item in load_openapi()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }

    assert documented == app_routes()


def test_every_openapi_reference_resolves() -> None:
    spec = load_openapi()

    for ref in set(iter_refs(spec)):
        assert ref.startswith("#/"), ref
        node: Any = spec
        for part in ref[2:].split("/"):
            assert part in node, f"unresolved {ref}"
            node = node[part]


def test_every_documented_operation_documents_its_responses() -> None:
    for path, item in load_openapi()["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                assert operation["responses"], (method, path)
                for status, response in operation["responses"].items():
                    assert "$ref" in response or "content" in response, (method, path, status)


async def test_responses_carry_exactly_the_documented_fields(backend: Backend) -> None:
    schemas = load_openapi()["components"]["schemas"]
    order = await backend.lookup_order("482913", JANE_EMAIL)
    customer = await backend.lookup_customer(JANE_EMAIL)
    error = await backend.lookup_order("999999", JANE_EMAIL)

    assert set(order.body) == set(schemas["Order"]["properties"])
    assert set(order.body) == set(schemas["Order"]["required"])
    assert set(order.body["items"][0]) == set(schemas["OrderItem"]["properties"])
    assert set(customer.body) == set(schemas["Customer"]["properties"])
    assert set(error.body) == set(schemas["Error"]["properties"])
    assert error.body["error"] in schemas["Error"]["properties"]["error"]["enum"]


async def test_outbox_messages_carry_exactly_the_documented_fields(backend: Backend) -> None:
    schema = load_openapi()["components"]["schemas"]["OutboxMessage"]
    await backend.reset_password(JANE_EMAIL)
    await backend.request_deletion(JANE_EMAIL)

    messages = {m["kind"]: m for m in await backend.outbox(JANE_EMAIL)}
    reset, deletion = messages["password_reset"], messages["account_deletion"]

    assert set(reset) == set(schema["required"])
    assert set(deletion) == set(schema["properties"])
    assert {reset["kind"], deletion["kind"]} == set(schema["properties"]["kind"]["enum"])

