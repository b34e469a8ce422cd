"""The fake platform APIs refuse what the real ones refuse, seen through the real client
libraries (slack_sdk, python-telegram-bot, twilio): if a fake accepted more than its platform,
the suites above it would pass on code that fails in production. Each limit is checked on
both sides of its boundary."""

from __future__ import annotations

from typing import Any, AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from tests.conftest import Serve
from tests.fakes.slack_api import TOKEN as SLACK_TOKEN
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegramAPI, Updates
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio

CHANNEL = "CSUPPORT"


# --- Slack ------------------------------------------------------------------------------------
@pytest.fixture
async def slack(serve: Serve) -> AsyncIterator[tuple[FakeSlackApi, AsyncWebClient]]:
    fake = FakeSlackApi()
    client = AsyncWebClient(token=SLACK_TOKEN, base_url=f"{await serve(fake.app())}/api/",
                            retry_handlers=[])
    yield fake, client


async def slack_error(call: Any) -> str | None:
    try:
        await call
    except SlackApiError as exc:
        return str(exc.response["error"])
    return None


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text: str = "Track", value: str = "/order_status",
           action_id: str = "choice-0") -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "value": value,
            "text": {"type": "plain_text", "text": text}}


def actions(*elements: dict[str, Any], block_id: str = "b") -> dict[str, Any]:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


MESSAGES = {
    "text of 40,000 characters": ({"text": "x" * 40_000}, None),
    "text of 40,001 characters": ({"text": "x" * 40_001}, "msg_too_long"),
    "neither text nor blocks": ({"text": ""}, "no_text"),
    "50 blocks": ({"text": "t", "blocks": [section("s")] * 50}, None),
    "51 blocks": ({"text": "t", "blocks": [section("s")] * 51}, "invalid_blocks"),
    "section text of 3,001": ({"text": "t", "blocks": [section("x" * 3001)]}, "invalid_blocks"),
    "empty section text": ({"text": "t", "blocks": [section("")]}, "invalid_blocks"),
    "button text of 75": ({"text": "t", "blocks": [actions(button("x" * 75))]}, None),
    "button text of 76": ({"text": "t", "blocks": [actions(button("x" * 76))]},
                          "invalid_blocks"),
    "empty button text": ({"text": "t", "blocks": [actions(button(""))]}, "invalid_blocks"),
    "button value of 2,000": ({"text": "t", "blocks": [actions(button(value="v" * 2000))]},
                              None),
    "button value of 2,001": ({"text": "t", "blocks": [actions(button(value="v" * 2001))]},
                              "invalid_blocks"),
    "action_id of 256": ({"text": "t", "blocks": [actions(button(action_id="a" * 256))]},
                         "invalid_blocks"),
    "26 buttons": ({"text": "t", "blocks": [actions(*(button(action_id=f"c{i}")
                                                     for i in range(26)))]}, "invalid_blocks"),
    "block_id of 256": ({"text": "t", "blocks": [actions(button(), block_id="b" * 256)]},
                        "invalid_blocks"),
}


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
@pytest.mark.parametrize("case", list(MESSAGES), ids=list(MESSAGES))
async def test_slack_posts_are_held_to_the_message_and_block_kit_limits(
        slack: tuple[FakeSlackApi, AsyncWebClient], case: str) -> None:
    _, client = slack
    arguments, error = MESSAGES[case]
    assert await slack_error(client.chat_postMessage(channel=CHANNEL, **arguments)) == error


@pytest.mark.parametrize("method", ["chat_update", "chat_delete"])
@pytest.mark.parametrize(("where", "error"), [
    ("a ts never posted in the channel", "message_not_found"),
    ("a channel never posted to", "channel_not_found"),
    ("a message already deleted", "message_not_found"),
    ("the message", None),
])
async def test_slack_updates_and_deletes_only_messages_it_created(
        slack: tuple[FakeSlackApi, AsyncWebClient], method: str, where: str,
        error: str | None) -> None:
    _, client = slack
    posted = await client.chat_postMessage(channel=CHANNEL, text="hello")
    channel, ts = CHANNEL, str(posted["ts"])
    if where == "a ts never posted in the channel":
        ts = "1700000000.999999"
    elif where == "a channel never posted to":
        channel = "CNOWHERE"
    elif where == "a message already deleted":
        await client.chat_delete(channel=CHANNEL, ts=ts)
    arguments: dict[str, Any] = {"channel": channel, "ts": ts}
    if method == "chat_update":
        arguments["text"] = "edited"
    assert await slack_error(getattr(client, method)(**arguments)) == error


async def test_a_slack_update_changes_the_message_it_keeps(
        slack: tuple[FakeSlackApi, AsyncWebClient]) -> None:
    fake, client = slack
    posted = await client.chat_postMessage(channel=CHANNEL, text="hello",
                                           blocks=[section("hello")])
    await client.chat_update(channel=CHANNEL, ts=posted["ts"], text="edited")
    assert fake.messages[(CHANNEL, posted["ts"])]["text"] == "edited"
    assert "blocks" not in fake.messages[(CHANNEL, posted["ts"])]  # new text, no blocks: gone


# --- Telegram ---------------------------------------------------------------------------------
CHAT = 4242


@pytest.fixture
async def telegram(serve: Serve) -> AsyncIterator[tuple[FakeTelegramAPI, Bot]]:
    fake = FakeTelegramAPI()
    url = await serve(fake.app())
    bot = Bot(TELEGRAM_TOKEN, base_url=f"{url}/bot", base_file_url=f"{url}/file/bot")
    await bot.initialize()
    yield fake, bot
    await bot.shutdown()


async def telegram_error(call: Any) -> str | None:
    try:
        await call
    except (BadRequest, Forbidden) as exc:
        return f"{type(exc).__name__}: {exc.message}"
    return None


TEXTS = {
    "4096 characters": ("x" * 4096, None),
    "4097 characters": ("x" * 4097, "BadRequest: Message is too long"),
    "4096 emoji (8192 UTF-16 units: Telegram counts code points)": ("\U0001f600" * 4096, None),
    "4097 emoji": ("\U0001f600" * 4097, "BadRequest: Message is too long"),
    "4096 characters in surrounding spaces": ("  " + "x" * 4096 + "\n", None),
    "only whitespace": (" \n\t ", "BadRequest: Message text is empty"),
    "empty": ("", "BadRequest: Message text is empty"),
}


@pytest.mark.parametrize("case", list(TEXTS), ids=list(TEXTS))
async def test_telegram_message_texts_are_held_to_the_limits(
        telegram: tuple[FakeTelegramAPI, Bot], case: str) -> None:
    _, bot = telegram
    text, error = TEXTS[case]
    assert await telegram_error(bot.send_message(chat_id=CHAT, text=text)) == error


@pytest.mark.parametrize(("data", "error"), [
    ("x" * 64, None),
    ("x" * 65, "BadRequest: Button_data_invalid"),
    ("é" * 32, None),  # 64 bytes
    ("é" * 33, "BadRequest: Button_data_invalid"),  # 33 characters, 66 bytes
], ids=["64-bytes", "65-bytes", "32-two-byte-chars", "33-two-byte-chars"])
async def test_telegram_callback_data_is_held_to_64_bytes(
        telegram: tuple[FakeTelegramAPI, Bot], data: str, error: str | None) -> None:
    _, bot = telegram
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Track", callback_data=data)]])
    assert await telegram_error(bot.send_message(chat_id=CHAT, text="Pick one",
                                                 reply_markup=keyboard)) == error


@pytest.mark.parametrize(("who", "error"), [
    ("blocked", "Forbidden: Forbidden: bot was blocked by the user"),
    ("not_started", "Forbidden: Forbidden: bot can't initiate conversation with a user"),
])
async def test_telegram_refuses_chats_that_do_not_take_the_bot(
        telegram: tuple[FakeTelegramAPI, Bot], who: str, error: str) -> None:
    fake, bot = telegram
    getattr(fake, who).add(CHAT)
    assert await telegram_error(bot.send_message(chat_id=CHAT, text="hello")) == error


QUERY_INVALID = ("BadRequest: Query is too old and response timeout expired or query id is "
                 "invalid")


@pytest.mark.parametrize(("query", "error"), [
    ("delivered", None),
    ("never delivered", QUERY_INVALID),
    ("answered already", QUERY_INVALID),
    ("delivered too long ago", QUERY_INVALID),
])
async def test_telegram_answers_only_callback_queries_it_delivered_once_and_in_time(
        telegram: tuple[FakeTelegramAPI, Bot], query: str, error: str | None) -> None:
    fake, bot = telegram
    sent = {"chat_id": CHAT, "text": "Pick one", "reply_markup": {"inline_keyboard": [
        [{"text": "Track", "callback_data": "/order_status"}]]}}
    query_id = Updates(api=fake).press(sent, "/order_status")["callback_query"]["id"]
    if query == "never delivered":
        query_id = "123"
    elif query == "answered already":
        await bot.answer_callback_query(query_id)
    elif query == "delivered too long ago":
        fake.callback_answer_window_s = 0.0
    assert await telegram_error(bot.answer_callback_query(query_id)) == error


# --- Twilio -----------------------------------------------------------------------------------
@pytest.fixture
async def twilio(serve: Serve) -> AsyncIterator[tuple[FakeTwilio, Client]]:
    fake = FakeTwilio(unsubscribed={"+447700900666"})
    http = AsyncTwilioHttpClient()
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http,
                    environment={"TWILIO_ACCOUNT_SID": ACCOUNT_SID})
    client.api.base_url = await serve(fake.app())
    yield fake, client
    await http.close()


SENDS = {
    "a valid text": ({"to": "+447700900123", "from_": FROM_NUMBER, "body": "hi"}, None),
    "no body": ({"to": "+447700900123", "from_": FROM_NUMBER}, 21602),
    "a body of 1600": ({"to": "+447700900123", "from_": FROM_NUMBER, "body": "x" * 1600}, None),
    "a body of 1601": ({"to": "+447700900123", "from_": FROM_NUMBER, "body": "x" * 1601}, 21617),
    "a national number": ({"to": "07700900123", "from_": FROM_NUMBER, "body": "hi"}, 21211),
    "a number with spaces": ({"to": "+44 7700 900123", "from_": FROM_NUMBER, "body": "hi"},
                             21211),
    "a From the account does not own": ({"to": "+447700900123", "from_": "+15005550001",
                                         "body": "hi"}, 21606),
    "an unknown messaging service": ({"to": "+447700900123", "messaging_service_sid": "MG1",
                                      "body": "hi"}, 21701),
    "an unsubscribed number": ({"to": "+447700900666", "from_": FROM_NUMBER, "body": "hi"},
                               21610),
}


@pytest.mark.parametrize("case", list(SENDS), ids=list(SENDS))
async def test_twilio_refuses_messages_as_the_messages_resource_does(
        twilio: tuple[FakeTwilio, Client], case: str) -> None:
    _, client = twilio
    arguments, code = SENDS[case]
    try:
        await client.messages.create_async(**arguments)
    except TwilioRestException as exc:
        assert (exc.status, exc.code) == (400, code)
    else:
        assert code is None
