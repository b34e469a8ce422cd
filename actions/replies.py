"""What the actions say. Kept apart from the control flow so wording is reviewed in one place."""

from __future__ import annotations

from datetime import date

from actions.orders_client import Order

OFFER_BUTTONS = [
    {"title": "Talk to a person", "payload": "/human_handoff"},
    {"title": "No thanks", "payload": "/deny"},
]


def _day(iso: str | None) -> str | None:
    if not iso:
        return None
    try:
        return date.fromisoformat(iso[:10]).strftime("%A, %B %-d")
    except ValueError:
        return iso


def _items(order: Order) -> str:
    names = [f"{i.get('quantity', 1)}× {i.get('name')}" if i.get("quantity", 1) != 1
             else str(i.get("name")) for i in order.items]
    return ", ".join(names) if names else "your items"


def order_status(order: Order) -> str:
    ref = f"Order #{order.order_id} ({_items(order)})"
    tracking = ""
    if order.carrier and order.tracking_number:
        tracking = f" Carrier: {order.carrier}, tracking number {order.tracking_number}"
        tracking += f": {order.tracking_url}" if order.tracking_url else "."
    expected = _day(order.expected_delivery)
    if order.status == "shipped":
        return f"{ref} has shipped.{tracking} Expected delivery: {expected or 'soon'}."
    if order.status == "processing":
        text = f"{ref} is being prepared in our warehouse and hasn't shipped yet."
        return text + (f" Expected delivery: {expected}." if expected else "")
    if order.status == "delivered":
        when = _day(order.delivered_at)
        return (f"{ref} was delivered{' on ' + when if when else ''}.{tracking} If you can't find "
                "it, check with neighbours or your building's mailroom, or ask me for a person.")
    if order.status == "cancelled":
        return f"{ref} was cancelled. {order.status_note or ''}".strip()
    if order.status == "delayed":
        note = f" {order.status_note}" if order.status_note else ""
        return (f"{ref} is delayed, sorry about that.{note}{tracking} The new expected delivery "
                f"date is {expected or 'not known yet'}.")
    return f"{ref} has status: {order.status}.{tracking}"


ORDER_NOT_FOUND = ("I couldn't find an order with the number #{order_id}. Please double-check it "
                   "in your confirmation email. Would you like me to connect you with a person?")
VERIFICATION_FAILED = ("Sorry, I couldn't verify that order with the details you gave, so I can't "
                       "share anything about it. Please check the email or phone number used at "
                       "checkout. Would you like me to connect you with a person?")
VERIFICATION_FAILED_TWICE = ("I still couldn't verify that order, so I won't share its details. A "
                             "person from our team can confirm it's yours in other ways: I'm "
                             "connecting you now.")
TOO_MANY_ORDER_ATTEMPTS = ("For your security I can't check that order again right now. Please "
                           "try again later, or I can connect you with a person.")
ORDERS_UNAVAILABLE = ("I can't reach our order system right now, sorry: that's on our side, not "
                      "yours. You can try again in a few minutes, or I can connect you with a "
                      "person who can check for you.")
RESET_SENT = ("If an account matches what you gave me, we've just emailed it a link to reset your "
              "password. The link is valid for 30 minutes; check your spam folder if it doesn't "
              "arrive within a few minutes. I'll never ask for your password.")
RESET_RATE_LIMITED = ("You've asked for several reset links in a short time, so I've paused new "
                      "ones for now. Please use the most recent email, or try again in an hour. "
                      "Need a person instead?")
IDENTITY_UNAVAILABLE = ("I can't reach our account system right now, sorry: that's on our side. "
                        "Please try again in a few minutes, or I can connect you with a person.")
FALLBACK_FIRST = ("Sorry, I didn't quite get that. Could you say it another way? I can track "
                  "orders, reset passwords and answer questions about shipping, returns, refunds "
                  "and payments.")
FALLBACK_OFFER = ("I'm still not understanding, sorry. Would you like me to connect you with a "
                  "person?")
OFFER_PERSON = "Would you like me to connect you with a person?"
HANDOFF_FAILED = ("I'm sorry, I couldn't reach our support team's inbox just now. Please try "
                  "\"agent\" again in a minute, or email support@northwind.example and we'll "
                  "get back to you.")

# --- account deletion ---
# Said before anything happens: what goes, that it is final, and how we check it is them.
DELETION_EXPLAINED = ("I can delete your Northwind account for you. That deletes the account and "
                      "everything from our conversation here: the chat history and any support "
                      "cases opened from it. It can't be undone. To check it's really you, I'll "
                      "email a one-time code to the address on the account. Type \"cancel\" to "
                      "stop at any point.")
DELETION_LOGIN_INVALID = ("I need the email address on your account (just that, and never your "
                          "password).")
# Never says whether the address has an account: that would tell anyone who asks.
DELETION_CODE_SENT = ("If that address belongs to an account, I've just emailed it a 6-digit "
                      "code. It's valid for 10 minutes.")
DELETION_RATE_LIMITED = ("I've already sent several codes in the last hour, so I won't send "
                         "another one right now. If you have a code from the last 10 minutes, "
                         "you can still use it.")
DELETION_ASK_CODE = ("Please type the code here. I'll keep it out of our chat history, and I'll "
                     "never ask for your password.")
DELETION_CODE_SHAPE = "That doesn't look like the code: it's the 6 digits in the email I sent."
DELETION_CODE_WRONG = ("That code didn't work: it may be mistyped, or older than 10 minutes. You "
                       "can try once more.")
DELETION_CODE_FAILED = ("That code didn't work either, so I haven't deleted anything. A person "
                        "from our team can help you delete your account another way. Would you "
                        "like me to connect you?")
DELETION_DONE = ("Done: your Northwind account is deleted, and so is everything from our "
                 "conversation here: the chat history and its support cases. This chat starts "
                 "over now. Take care!")
