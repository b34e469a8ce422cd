"""SQLite persistence for the demo backend.

One connection is shared by all requests and serialised with a lock: the demo's load is tiny,
and a single writer keeps each check-then-act sequence (rate limits in particular) atomic
without relying on SQLite busy retries. Every call runs in a worker thread so the event loop
never blocks on disk I/O.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Final, TypeVar, cast

from backends.demo_seed import CUSTOMERS, ORDERS, OrderStatus, Tier

__all__ = [
    "DELETION_CODE_TTL",
    "MAX_DELETION_CODE_FAILURES",
    "MAX_DELETION_REQUESTS",
    "MAX_FAILED_VERIFICATIONS",
    "MAX_RESET_REQUESTS",
    "RATE_LIMIT_WINDOW",
    "Clock",
    "Customer",
    "DeletionOutcome",
    "DeletionRequestOutcome",
    "DemoStore",
    "LookupRefusal",
    "Order",
    "OrderItem",
    "OutboxKind",
    "OutboxMessage",
    "ResetOutcome",
    "email_key",
    "phone_key",
    "random_code",
    "utc_now",
]

T = TypeVar("T")
Clock = Callable[[], datetime]

RATE_LIMIT_WINDOW: Final = timedelta(hours=1)
# A lockout after ten wrong contacts makes guessing a customer's email or phone impractical
# while leaving room for a customer who mistypes a few times.
MAX_FAILED_VERIFICATIONS: Final = 10
MAX_RESET_REQUESTS: Final = 5
# Account deletion asks for a code e-mailed to the account: requests are limited like resets (each
# one sends an e-mail), and each code allows a few typos before it is burnt, so guessing a code
# (one in a million) gets at most 5 tries per e-mail the account's owner receives.
MAX_DELETION_REQUESTS: Final = 5
MAX_DELETION_CODE_FAILURES: Final = 5
DELETION_CODE_TTL: Final = timedelta(minutes=10)
_DELETION_CODE_DIGITS: Final = 6

_NON_DIGITS: Final = re.compile(r"[^0-9]")
# Country codes and trunk prefixes vary ("+1", "001", "0"), so only the national part, the
# last ten digits, identifies a phone number.
_PHONE_KEY_DIGITS: Final = 10

_SCHEMA: Final = """
BEGIN;
CREATE TABLE IF NOT EXISTS customers (
    customer_id   TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    email         TEXT NOT NULL,
    email_norm    TEXT NOT NULL UNIQUE,
    phone         TEXT NOT NULL,
    phone_key     TEXT NOT NULL,
    username      TEXT NOT NULL,
    username_norm TEXT NOT NULL UNIQUE,
    vip           INTEGER NOT NULL CHECK (vip IN (0, 1)),
    tier          TEXT NOT NULL CHECK (tier IN ('standard', 'gold'))
);
CREATE INDEX IF NOT EXISTS customers_phone_key ON customers (phone_key);

CREATE TABLE IF NOT EXISTS orders (
    order_id                      TEXT PRIMARY KEY,
    customer_id                   TEXT NOT NULL REFERENCES customers (customer_id),
    status                        TEXT NOT NULL CHECK (
        status IN ('processing', 'shipped', 'delivered', 'cancelled', 'delayed')
    ),
    placed_offset_days            INTEGER NOT NULL,
    carrier                       TEXT,
    tracking_number               TEXT,
    tracking_url                  TEXT,
    expected_delivery_offset_days INTEGER,
    delivered_offset_days         INTEGER,
    status_note                   TEXT
);

CREATE TABLE IF NOT EXISTS order_items (
    order_id TEXT NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name     TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, position)
);

CREATE TABLE IF NOT EXISTS verification_failures (
    order_id  TEXT NOT NULL,
    failed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS verification_failures_by_order
    ON verification_failures (order_id, failed_at);

CREATE TABLE IF NOT EXISTS password_reset_requests (
    login_key    TEXT NOT NULL,
    requested_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS password_reset_requests_by_login
    ON password_reset_requests (login_key, requested_at);

CREATE TABLE IF NOT EXISTS password_reset_outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id  TEXT NOT NULL REFERENCES customers (customer_id),
    email        TEXT NOT NULL,
    token_sha256 TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS password_reset_outbox_by_customer
    ON password_reset_outbox (customer_id, id);

CREATE TABLE IF NOT EXISTS account_deletion_requests (
    login_key    TEXT NOT NULL,
    requested_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS account_deletion_requests_by_login
    ON account_deletion_requests (login_key, requested_at);

-- One live code per account (a new request replaces it); a used code is deleted.
CREATE TABLE IF NOT EXISTS account_deletion_codes (
    customer_id     TEXT PRIMARY KEY REFERENCES customers (customer_id),
    code_sha256     TEXT NOT NULL,
    expires_at      REAL NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0
);

-- The e-mails the demo would have sent. Unlike a reset link, the code has to be read back by
-- the demo and the tests (GET /v1/_demo/outbox), so the message keeps it, as a mailbox would.
CREATE TABLE IF NOT EXISTS account_deletion_outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id TEXT NOT NULL REFERENCES customers (customer_id),
    email       TEXT NOT NULL,
    code        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS account_deletion_outbox_by_customer
    ON account_deletion_outbox (customer_id, id);

-- Deleted accounts keep an anonymous row (their orders still point at it); this table keeps the
-- seed from bringing them back on the next start.
CREATE TABLE IF NOT EXISTS deleted_customers (
    customer_id TEXT PRIMARY KEY REFERENCES customers (customer_id),
    deleted_at  TEXT NOT NULL
);
COMMIT;
"""


class LookupRefusal(Enum):
    """Why an order lookup did not return the order."""

    ORDER_NOT_FOUND = "order_not_found"
    VERIFICATION_FAILED = "verification_failed"
    TOO_MANY_ATTEMPTS = "too_many_attempts"


class ResetOutcome(Enum):
    # Deliberately no "unknown account" member: callers must not be able to tell.
    ACCEPTED = "accepted"
    TOO_MANY_ATTEMPTS = "too_many_attempts"


class DeletionRequestOutcome(Enum):
    # No "unknown account" member either: the same answer whether or not the account exists.
    ACCEPTED = "accepted"
    TOO_MANY_ATTEMPTS = "too_many_attempts"


class DeletionOutcome(Enum):
    DELETED = "deleted"
    # One refusal for a wrong, expired, used or burnt code and for an unknown login, so a
    # caller learns nothing but "not deleted".
    REFUSED = "refused"


class OutboxKind(Enum):
    PASSWORD_RESET = "password_reset"
    ACCOUNT_DELETION = "account_deletion"


@dataclass(frozen=True, slots=True)
class OrderItem:
    name: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    status: OrderStatus
    placed_at: date
    items: tuple[OrderItem, ...]
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    expected_delivery: date | None
    delivered_at: date | None
    status_note: str | None


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str
    name: str
    email: str
    vip: bool
    tier: Tier


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    kind: OutboxKind
    email: str
    created_at: str
    code: str | None = None  # the one-time code an account-deletion e-mail carries


def utc_now() -> datetime:
    return datetime.now(UTC)


def random_code() -> str:
    """A one-time code: 6 digits from the OS's CSPRNG (a guess has a one-in-a-million chance)."""
    return f"{secrets.randbelow(10**_DELETION_CODE_DIGITS):0{_DELETION_CODE_DIGITS}d}"


def email_key(value: str) -> str:
    return value.strip().casefold()


def phone_key(value: str) -> str | None:
    """The comparable part of a phone number, or None if it has too few digits to compare."""
    digits = _NON_DIGITS.sub("", value)
    if len(digits) < _PHONE_KEY_DIGITS:
        return None
    return digits[-_PHONE_KEY_DIGITS:]


def _is_email(contact: str) -> bool:
    return "@" in contact


def _contact_matches(contact: str, email_norm: str, customer_phone_key: str) -> bool:
    if _is_email(contact):
        return email_key(contact) == email_norm
    return phone_key(contact) == customer_phone_key


def _login_key(login: str) -> str:
    return login.strip().casefold()


def _code_digest(customer_id: str, code: str) -> str:
    # Bound to the account, so the same code for two accounts has two digests.
    return hashlib.sha256(f"{customer_id}:{code}".encode()).hexdigest()


def _tombstone(customer_id: str) -> str:
    # What a deleted account's unique login columns hold. Upper case: login and e-mail keys are
    # case-folded, so no login typed by anyone can ever match it.
    return f"DELETED:{customer_id}"


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _offset(today: date, days: int | None) -> date | None:
    return None if days is None else today + timedelta(days=days)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    # IMMEDIATE takes the write lock up front, so another process sharing the file cannot
    # slip a write in between our rate-limit count and our insert.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _seed(conn: sqlite3.Connection) -> None:
    # Upserts rather than "insert if missing": the seed module is the source of truth for demo
    # data, so an old database picks up seed changes, and re-running never duplicates rows.
    with _transaction(conn):
        conn.executemany(
            """
            INSERT INTO customers (customer_id, name, email, email_norm, phone, phone_key,
                                   username, username_norm, vip, tier)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (customer_id) DO UPDATE SET
                name = excluded.name, email = excluded.email, email_norm = excluded.email_norm,
                phone = excluded.phone, phone_key = excluded.phone_key,
                username = excluded.username, username_norm = excluded.username_norm,
                vip = excluded.vip, tier = excluded.tier
            WHERE customer_id NOT IN (SELECT customer_id FROM deleted_customers)
            """,
            [
                (
                    c.customer_id,
                    c.name,
                    c.email,
                    email_key(c.email),
                    c.phone,
                    phone_key(c.phone),
                    c.username,
                    _login_key(c.username),
                    int(c.vip),
                    c.tier,
                )
                for c in CUSTOMERS
            ],
        )
        conn.executemany(
            """
            INSERT INTO orders (order_id, customer_id, status, placed_offset_days, carrier,
                                tracking_number, tracking_url, expected_delivery_offset_days,
                                delivered_offset_days, status_note)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (order_id) DO UPDATE SET
                customer_id = excluded.customer_id, status = excluded.status,
                placed_offset_days = excluded.placed_offset_days, carrier = excluded.carrier,
                tracking_number = excluded.tracking_number, tracking_url = excluded.tracking_url,
                expected_delivery_offset_days = excluded.expected_delivery_offset_days,
                delivered_offset_days = excluded.delivered_offset_days,
                status_note = excluded.status_note
            """,
            [
                (
                    o.order_id,
                    o.customer_id,
                    o.status,
                    o.placed_offset_days,
                    o.carrier,
                    o.tracking_number,
                    o.tracking_url,
                    o.expected_delivery_offset_days,
                    o.delivered_offset_days,
                    o.status_note,
                )
                for o in ORDERS
            ],
        )
        # Replacing the item list wholesale handles items removed from the seed as well.
        conn.executemany(
            "DELETE FROM order_items WHERE order_id = ?", [(o.order_id,) for o in ORDERS]
        )
        conn.executemany(
            "INSERT INTO order_items (order_id, position, name, quantity) VALUES (?, ?, ?, ?)",
            [
                (o.order_id, position, item.name, item.quantity)
                for o in ORDERS
                for position, item in enumerate(o.items)
            ],
        )


def _connect(db_path: str) -> sqlite3.Connection:
    if db_path != ":memory:":
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: we issue BEGIN/COMMIT ourselves so transactions are explicit.
    conn = sqlite3.connect(db_path, timeout=5.0, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.executescript(_SCHEMA)
        _seed(conn)
    except BaseException:
        conn.close()
        raise
    return conn


class DemoStore:
    """Demo customers, orders, verification and password-reset bookkeeping.

    Rate-limit counters live in the database rather than in memory so that restarting the
    service does not hand a guesser a fresh budget of attempts.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        clock: Clock = utc_now,
        new_code: Callable[[], str] = random_code,
    ) -> None:
        self._conn = conn
        self._clock = clock
        self._new_code = new_code
        self._lock = threading.Lock()

    @classmethod
    async def open(
        cls, db_path: str, *, clock: Clock = utc_now, new_code: Callable[[], str] = random_code
    ) -> DemoStore:
        """Open (creating and seeding if needed) the database at ``db_path``.

        ``new_code`` makes account-deletion codes (tests inject predictable ones)."""
        conn = await asyncio.to_thread(_connect, db_path)
        return cls(conn, clock=clock, new_code=new_code)

    async def close(self) -> None:
        await self._call(lambda conn: conn.close())

    async def lookup_order(self, order_id: str, contact: str) -> Order | LookupRefusal:
        """Return the order only if ``contact`` belongs to the customer who placed it."""
        return await self._call(functools.partial(self._lookup_order, order_id, contact))

    async def find_customer(self, contact: str) -> Customer | None:
        return await self._call(functools.partial(self._find_customer, contact))

    async def request_password_reset(self, login: str) -> ResetOutcome:
        """Queue a reset email if ``login`` names an account; the outcome never says which."""
        return await self._call(functools.partial(self._request_password_reset, login))

    async def request_account_deletion(self, login: str) -> DeletionRequestOutcome:
        """E-mail a one-time deletion code if ``login`` names an account; the outcome never
        says which."""
        return await self._call(functools.partial(self._request_account_deletion, login))

    async def confirm_account_deletion(self, login: str, code: str) -> DeletionOutcome:
        """Delete the account if ``code`` is its live code; anything else is one refusal."""
        return await self._call(functools.partial(self._confirm_account_deletion, login, code))

    async def outbox_for(self, email: str) -> list[OutboxMessage]:
        return await self._call(functools.partial(self._outbox_for, email))

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._locked, fn)

    def _locked(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            return fn(self._conn)

    def _lookup_order(
        self, order_id: str, contact: str, conn: sqlite3.Connection
    ) -> Order | LookupRefusal:
        now = self._clock()
        window_start = (now - RATE_LIMIT_WINDOW).timestamp()
        with _transaction(conn):
            conn.execute(
                "DELETE FROM verification_failures WHERE order_id = ? AND failed_at <= ?",
                (order_id, window_start),
            )
            (failures,) = conn.execute(
                "SELECT count(*) FROM verification_failures WHERE order_id = ?", (order_id,)
            ).fetchone()
            # Checked before the contact so a locked-out guesser cannot learn that a later
            # guess was right: every attempt gets the same answer until the window passes.
            if failures >= MAX_FAILED_VERIFICATIONS:
                return LookupRefusal.TOO_MANY_ATTEMPTS
            row = conn.execute(
                """
                SELECT o.*, c.email_norm, c.phone_key
                FROM orders AS o JOIN customers AS c USING (customer_id)
                WHERE o.order_id = ?
                """,
                (order_id,),
            ).fetchone()
            if row is None:
                return LookupRefusal.ORDER_NOT_FOUND
            if not _contact_matches(contact, row["email_norm"], row["phone_key"]):
                conn.execute(
                    "INSERT INTO verification_failures (order_id, failed_at) VALUES (?, ?)",
                    (order_id, now.timestamp()),
                )
                return LookupRefusal.VERIFICATION_FAILED
            items = conn.execute(
                "SELECT name, quantity FROM order_items WHERE order_id = ? ORDER BY position",
                (order_id,),
            ).fetchall()
        # Resolved at read time so the demo dates stay current however old the database is.
        today = now.date()
        return Order(
            order_id=row["order_id"],
            status=cast(OrderStatus, row["status"]),
            placed_at=today + timedelta(days=row["placed_offset_days"]),
            items=tuple(OrderItem(name=i["name"], quantity=i["quantity"]) for i in items),
            carrier=row["carrier"],
            tracking_number=row["tracking_number"],
            tracking_url=row["tracking_url"],
            expected_delivery=_offset(today, row["expected_delivery_offset_days"]),
            delivered_at=_offset(today, row["delivered_offset_days"]),
            status_note=row["status_note"],
        )

    def _find_customer(self, contact: str, conn: sqlite3.Connection) -> Customer | None:
        if _is_email(contact):
            query, key = "email_norm = ?", email_key(contact)
        else:
            query, maybe_key = "phone_key = ?", phone_key(contact)
            if maybe_key is None:
                return None
            key = maybe_key
        row = conn.execute(
            f"SELECT customer_id, name, email, vip, tier FROM customers WHERE {query} "
            "ORDER BY customer_id LIMIT 1",
            (key,),
        ).fetchone()
        if row is None:
            return None
        return Customer(
            customer_id=row["customer_id"],
            name=row["name"],
            email=row["email"],
            vip=bool(row["vip"]),
            tier=cast(Tier, row["tier"]),
        )

    def _request_password_reset(self, login: str, conn: sqlite3.Connection) -> ResetOutcome:
        now = self._clock()
        key = _login_key(login)
        # Only the digest is stored, as a real service would, so a leaked outbox cannot be
        # replayed. The raw token would go into the email; the demo sends none, so it is
        # dropped here and never logged.
        token_sha256 = hashlib.sha256(secrets.token_urlsafe(32).encode("ascii")).hexdigest()
        with _transaction(conn):
            conn.execute(
                "DELETE FROM password_reset_requests WHERE login_key = ? AND requested_at <= ?",
                (key, (now - RATE_LIMIT_WINDOW).timestamp()),
            )
            (requests,) = conn.execute(
                "SELECT count(*) FROM password_reset_requests WHERE login_key = ?", (key,)
            ).fetchone()
            if requests >= MAX_RESET_REQUESTS:
                return ResetOutcome.TOO_MANY_ATTEMPTS
            conn.execute(
                "INSERT INTO password_reset_requests (login_key, requested_at) VALUES (?, ?)",
                (key, now.timestamp()),
            )
            # One statement for known and unknown logins alike (it inserts one row or none),
            # so both take the same path and response timing does not reveal which it was.
            conn.execute(
                """
                INSERT INTO password_reset_outbox (customer_id, email, token_sha256, created_at)
                SELECT customer_id, email, :token_sha256, :created_at
                FROM customers WHERE email_norm = :key OR username_norm = :key
                ORDER BY customer_id LIMIT 1
                """,
                {"token_sha256": token_sha256, "created_at": _iso_utc(now), "key": key},
            )
        return ResetOutcome.ACCEPTED

    def _request_account_deletion(
        self, login: str, conn: sqlite3.Connection
    ) -> DeletionRequestOutcome:
        now = self._clock()
        key = _login_key(login)
        code = self._new_code()
        with _transaction(conn):
            conn.execute(
                "DELETE FROM account_deletion_requests WHERE login_key = ? AND requested_at <= ?",
                (key, (now - RATE_LIMIT_WINDOW).timestamp()),
            )
            (requests,) = conn.execute(
                "SELECT count(*) FROM account_deletion_requests WHERE login_key = ?", (key,)
            ).fetchone()
            if requests >= MAX_DELETION_REQUESTS:
                return DeletionRequestOutcome.TOO_MANY_ATTEMPTS
            conn.execute(
                "INSERT INTO account_deletion_requests (login_key, requested_at) VALUES (?, ?)",
                (key, now.timestamp()),
            )
            row = conn.execute(
                "SELECT customer_id, email FROM customers "
                "WHERE email_norm = ? OR username_norm = ? ORDER BY customer_id LIMIT 1",
                (key, key),
            ).fetchone()
            if row is None:
                return DeletionRequestOutcome.ACCEPTED
            # A new code replaces the previous one (and its count of wrong tries).
            conn.execute(
                """
                INSERT INTO account_deletion_codes
                    (customer_id, code_sha256, expires_at, failed_attempts)
                VALUES (?, ?, ?, 0)
                ON CONFLICT (customer_id) DO UPDATE SET
                    code_sha256 = excluded.code_sha256, expires_at = excluded.expires_at,
                    failed_attempts = 0
                """,
                (
                    row["customer_id"],
                    _code_digest(row["customer_id"], code),
                    (now + DELETION_CODE_TTL).timestamp(),
                ),
            )
            conn.execute(
                "INSERT INTO account_deletion_outbox (customer_id, email, code, created_at) "
                "VALUES (?, ?, ?, ?)",
                (row["customer_id"], row["email"], code, _iso_utc(now)),
            )
        return DeletionRequestOutcome.ACCEPTED

    def _confirm_account_deletion(
        self, login: str, code: str, conn: sqlite3.Connection
    ) -> DeletionOutcome:
        now = self._clock()
        key = _login_key(login)
        with _transaction(conn):
            row = conn.execute(
                """
                SELECT c.customer_id, c.email_norm, c.username_norm,
                       d.code_sha256, d.expires_at, d.failed_attempts
                FROM customers AS c JOIN account_deletion_codes AS d USING (customer_id)
                WHERE c.email_norm = :key OR c.username_norm = :key
                ORDER BY c.customer_id LIMIT 1
                """,
                {"key": key},
            ).fetchone()
            if row is None:
                return DeletionOutcome.REFUSED
            # A burnt or expired code stays refused even when the right code comes later:
            # otherwise a guesser would learn the code from the different answer.
            if row["failed_attempts"] >= MAX_DELETION_CODE_FAILURES or (
                row["expires_at"] <= now.timestamp()
            ):
                return DeletionOutcome.REFUSED
            if not hmac.compare_digest(
                _code_digest(row["customer_id"], code.strip()), row["code_sha256"]
            ):
                conn.execute(
                    "UPDATE account_deletion_codes SET failed_attempts = failed_attempts + 1 "
                    "WHERE customer_id = ?",
                    (row["customer_id"],),
                )
                return DeletionOutcome.REFUSED
            _erase_customer(conn, row, now)
        return DeletionOutcome.DELETED

    def _outbox_for(self, email: str, conn: sqlite3.Connection) -> list[OutboxMessage]:
        rows = conn.execute(
            """
            SELECT 'password_reset' AS kind, o.email, o.created_at, NULL AS code, o.id
            FROM password_reset_outbox AS o JOIN customers AS c USING (customer_id)
            WHERE c.email_norm = :key
            UNION ALL
            SELECT 'account_deletion' AS kind, o.email, o.created_at, o.code, o.id
            FROM account_deletion_outbox AS o JOIN customers AS c USING (customer_id)
            WHERE c.email_norm = :key
            ORDER BY created_at, kind, id
            """,
            {"key": email_key(email)},
        ).fetchall()
        return [
            OutboxMessage(
                kind=OutboxKind(r["kind"]), email=r["email"], created_at=r["created_at"],
                code=r["code"],
            )
            for r in rows
        ]


def _erase_customer(conn: sqlite3.Connection, row: sqlite3.Row, now: datetime) -> None:
    """Everything that names the person goes; what remains (the customer row their orders point
    at, the orders themselves for the shop's bookkeeping) is anonymous."""
    customer_id = row["customer_id"]
    logins = (row["email_norm"], row["username_norm"])
    for table in ("password_reset_requests", "account_deletion_requests"):
        conn.execute(f"DELETE FROM {table} WHERE login_key IN (?, ?)", logins)
    for table in ("password_reset_outbox", "account_deletion_outbox", "account_deletion_codes"):
        conn.execute(f"DELETE FROM {table} WHERE customer_id = ?", (customer_id,))
    tombstone = _tombstone(customer_id)
    conn.execute(
        """
        UPDATE customers SET name = '', email = '', email_norm = :tombstone, phone = '',
            phone_key = '', username = '', username_norm = :tombstone, vip = 0,
            tier = 'standard'
        WHERE customer_id = :customer_id
        """,
        {"tombstone": tombstone, "customer_id": customer_id},
    )
    conn.execute(
        "INSERT INTO deleted_customers (customer_id, deleted_at) VALUES (?, ?)",
        (customer_id, _iso_utc(now)),
    )
