"""Seeded demo customers and orders.

Other test suites (actions, stories, end-to-end) rely on these exact values, so change them
only together with those tests.

Dates are stored as day offsets relative to "today" and resolved when read, so a demo
database created months ago still shows a parcel arriving in two days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OrderStatus = Literal["processing", "shipped", "delivered", "cancelled", "delayed"]
Tier = Literal["standard", "gold"]


@dataclass(frozen=True, slots=True)
class SeedCustomer:
    customer_id: str
    name: str
    email: str
    phone: str
    username: str
    vip: bool
    tier: Tier


@dataclass(frozen=True, slots=True)
class SeedItem:
    name: str
    quantity: int


@dataclass(frozen=True, slots=True)
class SeedOrder:
    order_id: str
    customer_id: str
    status: OrderStatus
    placed_offset_days: int
    items: tuple[SeedItem, ...]
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    expected_delivery_offset_days: int | None = None
    delivered_offset_days: int | None = None
    status_note: str | None = None


CUSTOMERS: tuple[SeedCustomer, ...] = (
    SeedCustomer(
        customer_id="C001",
        name="Jane Doe",
        email="jane.doe@example.com",
        phone="+1 555 010 0001",
        username="janedoe",
        vip=False,
        tier="standard",
    ),
    SeedCustomer(
        customer_id="C002",
        name="Omar Haddad",
        email="omar@example.org",
        phone="+44 7700 900123",
        username="omarh",
        vip=True,
        tier="gold",
    ),
    SeedCustomer(
        customer_id="C003",
        name="Li Wei",
        email="li.wei@example.net",
        phone="+1 555 010 0003",
        username="liwei",
        vip=False,
        tier="standard",
    ),
    # The account the account-deletion flow deletes in end-to-end tests (and demos): the other
    # accounts are looked up by tests that share one running stack, so they must survive.
    SeedCustomer(
        customer_id="C004",
        name="Sam Rivera",
        email="sam.rivera@example.com",
        phone="+1 555 010 0004",
        username="samrivera",
        vip=False,
        tier="standard",
    ),
)

ORDERS: tuple[SeedOrder, ...] = (
    SeedOrder(
        order_id="482913",
        customer_id="C001",
        status="shipped",
        placed_offset_days=-3,
        items=(SeedItem("Merino wool jacket", 1),),
        carrier="UPS",
        tracking_number="1Z999AA10123456784",
        tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456784",
        expected_delivery_offset_days=2,
    ),
    SeedOrder(
        order_id="482914",
        customer_id="C001",
        status="processing",
        placed_offset_days=-1,
        items=(SeedItem("Ceramic mug set", 2),),
        expected_delivery_offset_days=5,
    ),
    SeedOrder(
        order_id="482915",
        customer_id="C001",
        status="delivered",
        placed_offset_days=-10,
        items=(SeedItem("Desk lamp", 1),),
        carrier="USPS",
        tracking_number="9400111899223344556677",
        tracking_url="https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899223344556677",
        delivered_offset_days=-3,
    ),
    SeedOrder(
        order_id="482916",
        customer_id="C002",
        status="cancelled",
        placed_offset_days=-8,
        items=(SeedItem("Noise-cancelling headphones", 1),),
        status_note="Cancelled at the customer's request; refund issued.",
    ),
    SeedOrder(
        order_id="482917",
        customer_id="C002",
        status="delayed",
        placed_offset_days=-9,
        items=(SeedItem("Espresso machine", 1),),
        carrier="DHL",
        tracking_number="JD014600006281234567",
        tracking_url="https://www.dhl.com/en/express/tracking.html?AWB=JD014600006281234567",
        expected_delivery_offset_days=6,
        status_note="Held up at customs; the carrier expects to release it soon.",
    ),
    SeedOrder(
        order_id="482918",
        customer_id="C003",
        status="shipped",
        placed_offset_days=-2,
        items=(SeedItem("Running shoes", 1), SeedItem("Sports socks", 3)),
        carrier="FedEx",
        tracking_number="771234567890",
        tracking_url="https://www.fedex.com/fedextrack/?trknbr=771234567890",
        expected_delivery_offset_days=1,
    ),
    SeedOrder(
        order_id="482919",
        customer_id="C004",
        status="delivered",
        placed_offset_days=-20,
        items=(SeedItem("Wool scarf", 1),),
        carrier="UPS",
        tracking_number="1Z999AA10123456799",
        tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456799",
        delivered_offset_days=-15,
    ),
)
