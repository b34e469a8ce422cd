"""The Slack inbox: human agents work handoff cases in one Slack channel (SLACK_INBOX_CHANNEL).

Each case gets one parent message there: its context package as Block Kit, a status line and the
buttons Claim, Return to bot and Resolve. The message is updated whenever the case moves (claimed,
returned, resolved, cancelled by the customer, rated). What the customer writes is mirrored into
the parent's thread, and so are replies agents send from the web console (labelled as such). An
agent's reply in that thread goes to the customer, claiming a waiting case for them first.

Only members of the inbox channel act on cases (conversations.members, cached for a minute);
anyone else, and anyone whose action the case does not allow (claimed by someone else, closed),
gets an ephemeral message saying why and nothing happens.

This is the same Slack app as the customer-facing Slack channel (channels/slack.py): the inbox
reserves its channel on that channel's bolt app, so events and button presses keep arriving at the
one POST /slack/events route, with the same signature checks, bot identity and Web API client.

Slack work for a case runs in the background, in event order, so a slow or failing Slack never
holds up the customer; failures are logged, and a case whose parent message could not be posted
gets one with its next event. The parent's ts is kept in the case state (slack_ts) and indexed
in the conversation store, so after a restart, or on another gateway instance, thread replies
still find their case.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Mapping, Sequence

from aiohttp import web

from bot.inbox_port import (OPEN, UNKNOWN, WAITING, Case, CaseConflict, CaseEvent, CaseEventKind,
                            CaseNotFound, CaseStatus, Channel, ChannelFacts, DeliveryFailed, Desk,
                            InboxStores, Relabel, facts_of)
from channels.outbound import PermanentSendError, send_with_retry, split_text
from channels.slack_format import HUMAN_SUBTYPES, clip, escape, unescape
from analytics.review import known_intents
from inbox.customer_label import customer_label
from inbox.reply_window import closed_reason, reply_until

if TYPE_CHECKING:  # for typing only: the inbox works through the Slack channel it is given
    from slack_bolt.async_app import AsyncAck, AsyncApp

    from channels.slack import SlackChannel

log = logging.getLogger(__name__)

INBOX_ENV = "SLACK_INBOX_CHANNEL"
LABEL_COMMAND = "!label"  # in a case thread: a correction of the bot, never sent to the customer
REQUIRED_ENV = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
PRESENCE = "slack-inbox"  # how the inbox counts in desk.availability (Slack presence is not ours)
AGENT_PREFIX = "slack:"  # agent ids are slack:<user id>

CLAIM, RETURN, RESOLVE = "inbox-claim", "inbox-return", "inbox-resolve"
ACTIONS = re.compile(r"^inbox-(claim|return|resolve)$")
MEMBERS_TTL_S = 60.0
PARENT_LEASE_S = 30  # one instance posts a case's parent; others wait for its ts meanwhile
PARENT_WAIT_S = 5.0
REPLY_DEDUPE_TTL_S = 24 * 3600
SHUTDOWN_GRACE_S = 2.0
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
HEADER_LIMIT = 150
INDEX = "slack-inbox"  # kv namespace: <channel>:<parent ts> -> the case the thread belongs to
THREADS = "slack-inbox-posts"  # kv namespace: case id -> ts of what the inbox posted in its thread

STATUS_LINES = {
    CaseStatus.QUEUED: ":hourglass_flowing_sand: *Waiting for an agent.* Claim it, or just reply in the "
              "thread.",
    CaseStatus.FOLLOW_UP: ":envelope: *Follow-up:* nobody was available, so the customer was asked for an "
                 "e-mail or phone number.",
    CaseStatus.ACTIVE: ":speech_balloon: *Claimed by {agent}.* Replies in this thread go to the customer.",
    CaseStatus.RETURNED: ":leftwards_arrow_with_hook: *Returned to the bot* by {agent}.",
    CaseStatus.RESOLVED: ":white_check_mark: *Resolved* by {agent}.",
    CaseStatus.CANCELLED: ":no_entry_sign: *Cancelled by the customer* before anyone took it.",
}
CLOSED_WORDS = {CaseStatus.RETURNED: "returned to the bot", CaseStatus.RESOLVED: "resolved",
                CaseStatus.CANCELLED: "cancelled by the customer"}


@dataclass(frozen=True)
class InboxConfig:
    channel: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> InboxConfig | None:
        channel = (env.get(INBOX_ENV) or "").strip()
        if not channel:
            log.info("slack inbox: off (%s not set)", INBOX_ENV)
            return None
        missing = [name for name in REQUIRED_ENV if not env.get(name)]
        if missing:
            log.warning("slack inbox: off (%s is set, but not %s)", INBOX_ENV, ", ".join(missing))
            return None
        return cls(channel=channel)


def attach(app: web.Application, desk: Desk, stores: InboxStores, channels: Sequence[Channel],
           env: Mapping[str, str], *,
           channel_facts: Mapping[str, ChannelFacts] | None = None,
           relabel: Relabel | None = None) -> SlackInbox | None:
    """Turn the inbox on when it is configured: subscribe it to the desk, put its listeners on
    the Slack channel's bolt app and tie its lifecycle to the gateway's."""
    config = InboxConfig.from_env(env)
    if config is None:
        return None
    slack = next((c for c in channels if c.name == "slack"), None)
    if slack is None:  # the channel is on with the same credentials, so this is a wiring bug
        log.error("slack inbox: off (the Slack channel is not running)")
        return None
    inbox = SlackInbox(desk, stores, slack, config,  # type: ignore[arg-type]
                       channel_facts=channel_facts, relabel=relabel)
    app[SLACK_INBOX_KEY] = inbox
    app.cleanup_ctx.append(inbox.lifecycle)
    log.info("slack inbox: on (channel %s)", config.channel)
    return inbox


class SlackInbox:
    name = PRESENCE

    def __init__(self, desk: Desk, stores: InboxStores, slack: SlackChannel,
                 config: InboxConfig, *,
                 channel_facts: Mapping[str, ChannelFacts] | None = None,
                 relabel: Relabel | None = None) -> None:
        self._desk = desk
        self._relabel = relabel
        self._intents: list[str] | None = None
        self._facts = dict(channel_facts or {})
        self._stores = stores
        self._slack = slack
        self._channel = config.channel
        self._members: tuple[float, frozenset[str]] | None = None  # (expires, user ids)
        self._members_lock = asyncio.Lock()
        # The latest queued work per case, each way: case events to Slack, agents to the desk.
        self._outbound: dict[str, asyncio.Task[None]] = {}
        self._inbound: dict[str, asyncio.Task[None]] = {}
        self._unposted: set[str] = set()  # cases whose parent this instance failed to post
        self._tasks: set[asyncio.Task[None]] = set()
        self._register(slack.reserve_channel(config.channel))
        desk.subscribe(self)

    def _register(self, bolt: AsyncApp) -> None:
        from channels.slack import channel_of  # loaded already: the Slack channel is running

        inbox_channel = self._channel

        async def in_inbox(body: dict[str, Any]) -> bool:
            return channel_of(body) == inbox_channel

        bolt.event("message", matchers=[in_inbox])(self._on_message)
        bolt.block_action(ACTIONS)(self._on_action)
        # Anything else there (app_mention, joins...) is acknowledged, or Slack would retry it.
        bolt.event(re.compile(".*"), matchers=[in_inbox])(self._on_other_event)

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        self._desk.availability.agent_online(PRESENCE)
        try:
            yield
        finally:
            self._desk.availability.agent_offline(PRESENCE)
            await self.close()

    async def close(self) -> None:
        if self._tasks:  # let Slack calls under way finish for a moment, then stop them
            await asyncio.wait(list(self._tasks), timeout=SHUTDOWN_GRACE_S)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until every queued Slack call has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- case events -> Slack ------------------------------------------------------------------
    async def on_case_event(self, event: CaseEvent) -> None:
        """Queue the event for Slack and return at once: the customer never waits for Slack."""
        case_id = event.case.case_id

        async def publish() -> None:
            try:
                await self._publish(event)
            except DeliveryFailed as exc:  # send_with_retry has logged the attempts
                log.error("slack inbox: %s of case %s not shown in Slack: %s", event.kind,
                          case_id, exc)
            except Exception:
                log.exception("slack inbox: %s of case %s failed", event.kind, case_id)

        self._in_order(self._outbound, case_id, publish)

    async def _publish(self, event: CaseEvent) -> None:
        case_id, kind = event.case.case_id, event.kind
        if kind is CaseEventKind.AGENT_MESSAGE and (event.actor or "").startswith(AGENT_PREFIX):
            return  # a Slack agent wrote it in the thread already: not echoed back
        if kind is CaseEventKind.ERASED:
            await self._erase(event.case)
            return
        found = await self._parent(case_id, opening=kind is CaseEventKind.OPENED)
        if found is None:
            return
        ts, fresh = found
        if kind is CaseEventKind.CUSTOMER_MESSAGE and event.text:
            await self._thread(case_id, ts, f"*Customer:* {escape(event.text)}")
        elif kind is CaseEventKind.AGENT_MESSAGE and event.text:
            await self._thread(case_id, ts, f"*{escape(_who(event.actor))}* (agent, from the console): "
                                   f"{escape(event.text)}")
        elif kind is CaseEventKind.UNDELIVERED and event.text:
            await self._thread(case_id, ts, f":warning: Not delivered to the customer: "
                                   f"{escape(event.text)}")
        elif kind is CaseEventKind.FOLLOW_UP_CONTACT and event.text:
            await self._thread(case_id, ts, f"The customer left a contact for the follow-up: "
                                   f"{escape(event.text)}")
        # A customer's message moves a reply window (if the channel has one) on.
        windowed = facts_of(self._facts, event.case.channel).reply_window_s is not None
        if not fresh and (kind not in (CaseEventKind.CUSTOMER_MESSAGE,
                                       CaseEventKind.AGENT_MESSAGE, CaseEventKind.UNDELIVERED)
                          or (kind is CaseEventKind.CUSTOMER_MESSAGE and windowed)):
            case = await self._desk.get(case_id)  # claimed, returned, resolved, cancelled, rated
            if case is not None:
                await self._update_parent(case, ts)

    async def _parent(self, case_id: str, *, opening: bool) -> tuple[str, bool] | None:
        """The case's parent message ts, posting it if it does not exist yet (the case opened, or
        an earlier post failed); fresh is True when it was posted just now."""
        case = await self._desk.get(case_id)
        if case is None:
            return None
        if case.slack_ts:
            return case.slack_ts, False
        if not opening and case.status not in OPEN:
            return None  # closed before it ever reached Slack: nothing left to act on
        if case_id not in self._unposted and not await self._stores.idempotency.first_seen(
                f"slack-inbox:parent:{case_id}", ttl_s=PARENT_LEASE_S):
            ts = await self._wait_for_parent(case_id)
            return (ts, False) if ts else None
        text, blocks = await self._render(case)
        self._unposted.add(case_id)  # until it worked: the next event of the case tries again
        result = await self._send(f"chat.postMessage of case {case_id}",
                                  lambda: self._slack.client.chat_postMessage(
                                      channel=self._channel, text=text, blocks=blocks,
                                      unfurl_links=False, unfurl_media=False))
        self._unposted.discard(case_id)
        ts = str(result["ts"])
        await self._stores.kv.put(INDEX, self._index_key(ts), case_id,
                                  ttl_s=self._stores.retention.cases_s)
        await self._stores.cases.update(case_id, slack_ts=ts)
        log.info("slack inbox: case %s posted (ts %s)", case_id, ts)
        return ts, True

    async def _wait_for_parent(self, case_id: str) -> str | None:
        deadline = time.monotonic() + PARENT_WAIT_S
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            case = await self._desk.get(case_id)
            if case is not None and case.slack_ts:
                return case.slack_ts
        log.warning("slack inbox: case %s has no parent message yet; event not shown", case_id)
        return None

    async def _update_parent(self, case: Case, ts: str) -> None:
        text, blocks = await self._render(case)
        await self._send(f"chat.update of case {case.case_id}",
                         lambda: self._slack.client.chat_update(
                             channel=self._channel, ts=ts, text=text, blocks=blocks))

    async def _render(self, case: Case) -> tuple[str, list[dict[str, Any]]]:
        facts = facts_of(self._facts, case.channel)
        return render_case(case, facts=facts,
                           reply_until=await reply_until(case, facts, self._stores.conversations))

    async def post_alert(self, text: str, examples: Sequence[str] = ()) -> None:
        """A spike alert (analytics/alerts.py), posted to the inbox channel. The examples are
        customers' words: escaped, so none becomes a mention or a disguised link."""
        quoted = "".join(f"\n• {escape(clip(e, 300))}" for e in examples)
        body = f":rotating_light: {escape(text)}" + (f"\nFor example:{quoted}" if quoted else "")
        await self._send("chat.postMessage of an alert", lambda: self._slack.client.chat_postMessage(
            channel=self._channel, text=body, unfurl_links=False, unfurl_media=False))

    async def _thread(self, case_id: str, ts: str, text: str) -> None:
        for chunk in split_text(text, SECTION_LIMIT):
            result = await self._send("chat.postMessage in a case thread",
                                      lambda chunk=chunk: self._slack.client.chat_postMessage(
                                          channel=self._channel, thread_ts=ts, text=chunk,
                                          unfurl_links=False, unfurl_media=False))
            # Remembered so an erasure can take the customer's words out of Slack again.
            posted = list(await self._stores.kv.get(THREADS, case_id) or [])
            posted.append(str(result["ts"]))
            await self._stores.kv.put(THREADS, case_id, posted,
                                      ttl_s=self._stores.retention.cases_s)

    async def _erase(self, case: Case) -> None:
        """The customer's data was erased: delete what the inbox posted about the case (the
        parent and the mirrored messages; agents' own thread replies are theirs to delete)."""
        posted = list(await self._stores.kv.get(THREADS, case.case_id) or [])
        for ts in [*posted, *([case.slack_ts] if case.slack_ts else [])]:
            try:
                await self._send(f"chat.delete in case {case.case_id}",
                                 lambda ts=ts: self._slack.client.chat_delete(
                                     channel=self._channel, ts=ts))
            except DeliveryFailed as exc:
                if "message_not_found" not in str(exc):
                    raise
        await self._stores.kv.delete(THREADS, case.case_id)
        if case.slack_ts:
            await self._stores.kv.delete(INDEX, self._index_key(case.slack_ts))
        log.info("slack inbox: case %s erased from %s", case.case_id, self._channel)

    async def _send(self, what: str, request: Callable[[], Awaitable[Any]]) -> Any:
        return await send_with_retry(lambda: self._slack.call(request()),
                                     what=f"slack inbox {what}", policy=self._slack.retry)

    def _index_key(self, ts: str) -> str:
        return f"{self._channel}:{ts}"

    async def _case_of(self, thread_ts: str) -> str | None:
        found = await self._stores.kv.get(INDEX, self._index_key(thread_ts))
        return str(found) if found else None

    # --- Slack -> cases ------------------------------------------------------------------------
    async def _on_message(self, event: dict[str, Any]) -> None:
        user, ts, thread_ts = event.get("user"), event.get("ts"), event.get("thread_ts")
        if (event.get("subtype") not in HUMAN_SUBTYPES or event.get("hidden")
                or event.get("bot_id") or not user or not ts):
            return
        if not thread_ts or thread_ts == ts:
            return  # a top-level message: the agents talking among themselves
        case_id = await self._case_of(str(thread_ts))
        if case_id is None:
            return  # a thread that is not a case's
        if not await self._stores.idempotency.first_seen(
                f"slack-inbox:reply:{self._channel}:{ts}", ttl_s=REPLY_DEDUPE_TTL_S):
            return  # Slack's redelivery of a reply already handled

        async def relay() -> None:
            try:
                await self._agent_reply(case_id, str(user), event, str(thread_ts))
            except Exception:
                log.exception("slack inbox: reply of %s to case %s failed", user, case_id)
                self._tell(str(user), "Something went wrong: your message was not sent to the "
                                      "customer. Please try again.", thread_ts=str(thread_ts))

        # Answered at once (Slack wants its answer within 3 s), relayed in order per case.
        self._in_order(self._inbound, case_id, relay)

    async def _agent_reply(self, case_id: str, user: str, event: dict[str, Any],
                           thread_ts: str) -> None:
        if not await self._allowed(user, thread_ts=thread_ts, what="your message was not sent"):
            return
        text = _plain(str(event.get("text") or ""))
        files = bool(event.get("files"))
        if text.lower().startswith(LABEL_COMMAND):
            await self._label(case_id, user, text, thread_ts)
            return
        if not text:
            if files:
                self._tell(user, "Files are not forwarded to the customer; only text is.",
                           thread_ts=thread_ts)
            return
        agent = AGENT_PREFIX + user
        case = await self._desk.get(case_id)
        if case is not None:
            # Before claiming: a reply that cannot be delivered must not take the case either.
            facts = facts_of(self._facts, case.channel)
            until = await reply_until(case, facts, self._stores.conversations)
            if until is not None and until <= time.time():
                self._tell(user, f"Your message was not sent: {closed_reason(facts)}",
                           thread_ts=thread_ts)
                return
        if case is not None and case.is_waiting:
            try:
                case = await self._desk.claim(case_id, agent)
            except CaseConflict:
                case = await self._desk.get(case_id)  # someone was quicker: explained below
        if case is None or case.status is not CaseStatus.ACTIVE or case.agent != agent:
            self._tell(user, _refusal(case, case_id, agent, "your message was not sent"),
                       thread_ts=thread_ts)
            return
        try:
            await self._desk.agent_reply(case_id, agent, text)
        except CaseConflict:
            self._tell(user, _refusal(await self._desk.get(case_id), case_id, agent,
                                      "your message was not sent"), thread_ts=thread_ts)
            return
        if files:
            self._tell(user, "Your text was sent; files are not forwarded to the customer.",
                       thread_ts=thread_ts)

    async def _label(self, case_id: str, user: str, text: str, thread_ts: str) -> None:
        """`!label <intent> [wrong]` in a case thread: the customer's last message to the bot
        should have been understood as <intent> (and the bot's answer was wrong): a training
        candidate. It is never sent to the customer."""
        words = text[len(LABEL_COMMAND):].split()
        intents = self._known_intents()
        if self._relabel is None:
            self._tell(user, "Corrections are off here (analytics are not configured).",
                       thread_ts=thread_ts)
            return
        if not words or words[0] not in intents or words[1:] not in ([], ["wrong"]):
            self._tell(user, f"Use `{LABEL_COMMAND} <intent> [wrong]`, with one of: "
                             + ", ".join(intents), thread_ts=thread_ts)
            return
        case = await self._desk.get(case_id)
        said = [e for e in (await self._desk.transcript(case) if case else [])
                if e.get("role") == "customer" and e.get("text")]
        if case is None or not said:
            self._tell(user, "There is no customer message in this case to correct.",
                       thread_ts=thread_ts)
            return
        # The message the bot had (the last one before the handoff), not what the customer
        # wrote to the agent since; when there is none, their latest.
        before = [e for e in said if float(e.get("ts") or 0) <= case.opened_at]
        text = str((before or said)[-1]["text"])
        await self._relabel(case, text=text, intent=words[0],
                            wrong_answer=words[1:] == ["wrong"], agent=AGENT_PREFIX + user)
        self._tell(user, f"Noted: \u201c{escape(clip(text, 200))}\u201d means {words[0]}"
                         + (" and the bot's answer was wrong" if words[1:] else "")
                         + ". Trainers see it in `make review`.", thread_ts=thread_ts)

    def _known_intents(self) -> list[str]:
        if self._intents is None:
            self._intents = known_intents(Path(__file__).resolve().parent.parent)
        return self._intents

    async def _on_action(self, ack: AsyncAck, body: dict[str, Any],
                         action: dict[str, Any]) -> None:
        await ack()  # at once; what happens next is visible on the parent, or told privately
        user = str((body.get("user") or {}).get("id") or "")
        case_id = str(action.get("value") or "")
        action_id = str(action.get("action_id"))
        if not user or not case_id:
            return

        async def act() -> None:
            try:
                await self._act(action_id, case_id, user)
            except Exception:
                log.exception("slack inbox: %s of case %s by %s failed", action_id, case_id, user)
                self._tell(user, f"Something went wrong with case {case_id}. Please try again.")

        self._in_order(self._inbound, case_id, act)

    async def _act(self, action_id: str, case_id: str, user: str) -> None:
        if not await self._allowed(user, what="nothing was changed"):
            return
        agent = AGENT_PREFIX + user
        try:
            if action_id == CLAIM:
                await self._desk.claim(case_id, agent)
                return
            case = await self._desk.require(case_id)
            # Checked here: the desk closes first and complains about the owner afterwards.
            if case.status is not CaseStatus.ACTIVE or case.agent != agent:
                self._tell(user, _refusal(case, case_id, agent, "nothing was changed"))
                return
            if action_id == RETURN:
                await self._desk.return_to_bot(case_id, agent)
            else:
                await self._desk.resolve(case_id, agent)
        except CaseNotFound:
            self._tell(user, f"Case {case_id} does not exist (any more).")
        except CaseConflict:
            self._tell(user, _refusal(await self._desk.get(case_id), case_id, agent,
                                      "nothing was changed"))

    async def _on_other_event(self, body: dict[str, Any]) -> None:
        kind = (body.get("event") or {}).get("type")
        if kind in ("member_joined_channel", "member_left_channel"):
            self._members = None  # who may act changed: ask Slack again next time
        log.debug("slack inbox: event %s ignored", kind)

    # --- who may act ---------------------------------------------------------------------------
    async def _allowed(self, user: str, *, what: str, thread_ts: str | None = None) -> bool:
        try:
            members = await self._inbox_members()
        except DeliveryFailed as exc:
            log.error("slack inbox: members of %s unknown, %s refused: %s", self._channel, user,
                      exc)
            self._tell(user, f"I could not check who may act on cases right now, so {what}. "
                             "Please try again in a moment.", thread_ts=thread_ts)
            return False
        if user not in members:
            log.warning("slack inbox: %s is not a member of %s; refused", user, self._channel)
            self._tell(user, f"Only members of <#{self._channel}> can work on cases, so {what}.",
                       thread_ts=thread_ts)
            return False
        return True

    async def _inbox_members(self) -> frozenset[str]:
        cached = self._members
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self._members_lock:
            cached = self._members
            if cached is not None and cached[0] > time.monotonic():
                return cached[1]
            members: set[str] = set()
            cursor: str | None = None
            while True:
                page = await send_with_retry(
                    lambda cursor=cursor: self._slack.call(self._slack.client.conversations_members(
                        channel=self._channel, limit=1000, cursor=cursor)),
                    what=f"slack inbox conversations.members of {self._channel}", attempts=2,
                    policy=self._slack.retry)
                members.update(str(m) for m in page.get("members") or ())
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
            self._members = (time.monotonic() + MEMBERS_TTL_S, frozenset(members))
            return self._members[1]

    # --- telling one agent ---------------------------------------------------------------------
    def _tell(self, user: str, text: str, *, thread_ts: str | None = None) -> None:
        """An ephemeral message to one person, sent in the background."""
        if user:
            self._spawn(self._ephemeral(user, text, thread_ts))

    async def _ephemeral(self, user: str, text: str, thread_ts: str | None) -> None:
        async def send() -> Any:
            try:
                return await self._slack.call(self._slack.client.chat_postEphemeral(
                    channel=self._channel, user=user, text=text, thread_ts=thread_ts))
            except PermanentSendError as exc:
                if "user_not_in_channel" not in str(exc):
                    raise
                # Slack shows ephemeral messages only to channel members: write to them directly.
                return await self._slack.call(self._slack.client.chat_postMessage(
                    channel=user, text=text))

        try:
            await send_with_retry(send, what=f"slack inbox message to {user}",
                                  policy=self._slack.retry)
        except DeliveryFailed:
            log.error("slack inbox: could not tell %s: %s", user, text)

    def _in_order(self, tails: dict[str, asyncio.Task[None]], case_id: str,
                  work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` in the background once the case's previous work in `tails` is done."""
        previous = tails.get(case_id)

        async def run() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            await work()

        task = self._spawn(run())
        tails[case_id] = task
        task.add_done_callback(
            lambda t: tails.pop(case_id, None) if tails.get(case_id) is t else None)

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


SLACK_INBOX_KEY = web.AppKey("slack_inbox", SlackInbox)


# --- rendering -----------------------------------------------------------------------------------
def render_case(case: Case, *, facts: ChannelFacts = UNKNOWN, reply_until: float | None = None,
                now: float | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The parent message of a case (`facts`: its channel's; `reply_until`: until when a text
    reply can be delivered, for a channel with a reply window): notification text and Block Kit
    blocks."""
    package = case.package or {}
    summary = package.get("summary") or {}
    customer = package.get("customer") or {}
    trigger = case.trigger or package.get("trigger") or {}
    sentiment = package.get("sentiment") or {}
    case_id = case.case_id
    channel = facts.label if facts is not UNKNOWN else case.channel or package.get("channel") or "?"
    kind = trigger.get("kind") or "?"

    header = clip(f"Case {case_id} · {channel} · {kind.replace('_', ' ')}", HEADER_LIMIT)
    blocks: list[dict[str, Any]] = [{"type": "header",
                                     "text": {"type": "plain_text", "text": header}}]
    if trigger.get("detail"):
        blocks.append(_section(f"*Why:* {escape(trigger['detail'])}"))
    blocks.append(_section("\n".join([
        f"*Wants:* {escape(summary.get('wants') or '?')}",
        f"*Bot did:* {escape(summary.get('bot_did') or '?')}",
        f"*Stopped at:* {escape(summary.get('stopped_at') or '?')}"])))

    slots = package.get("slots") or {}
    intents = package.get("intents") or []
    steps = package.get("steps_tried") or []
    fields = [
        f"*Customer*\n{escape(customer_label(customer, facts, contact=False))}",
        f"*Contact*\n{escape(customer.get('contact_hint') or 'none given')}",
        "*Collected*\n" + ("\n".join(f"{escape(k)}: {escape(str(v))}" for k, v in slots.items())
                           or "nothing"),
        "*Intents*\n" + ("\n".join(
            f"{escape(i['name'])} {float(i['confidence']):.2f}"
            + (f" ×{i['count']}" if i.get("count", 1) > 1 else "") for i in intents) or "none"),
        "*Sentiment*\n" + (
            f"{float(sentiment['latest']):+.2f} now, {float(sentiment['average']):+.2f} on "
            f"average, {sentiment['trend']}" if "latest" in sentiment else "unknown"),
        "*Steps tried*\n" + ("\n".join(f"• {escape(s)}" for s in steps) or "none"),
    ]
    blocks.append({"type": "section", "fields": [
        {"type": "mrkdwn", "text": clip(f, FIELD_LIMIT)} for f in fields]})
    context = [{"type": "mrkdwn", "text": _status(case)}]
    if reply_until is not None:
        context.append({"type": "mrkdwn", "text": _reply_window(facts, reply_until, now)})
    blocks.append({"type": "context", "elements": context})
    buttons = _buttons(case)
    if buttons:
        blocks.append({"type": "actions", "block_id": f"inbox:{case_id}", "elements": buttons})
    text = clip(f"Case {case_id} from {channel}: {summary.get('wants') or kind}", SECTION_LIMIT)
    return escape(text), blocks


def _reply_window(facts: ChannelFacts, until: float, now: float | None) -> str:
    if until <= (time.time() if now is None else now):
        return f":warning: Text replies can no longer be delivered. {closed_reason(facts)}"
    # Slack shows the time in each agent's own time zone; the fallback is UTC.
    fallback = time.strftime("%H:%M UTC", time.gmtime(until))
    return (f":hourglass_flowing_sand: <!date^{int(until)}^Text replies possible until "
            f"{{date_short_pretty}} {{time}}|Text replies possible until {fallback}> "
            f"({(facts.reply_window_s or 0) // 3600} h after the customer's last message).")


def _status(case: Case) -> str:
    status = case.status
    line = STATUS_LINES[status].format(agent=_mention(case.agent))
    if status is CaseStatus.FOLLOW_UP and case.follow_up_contact:
        line += " The customer left a contact (see the thread)."
    if case.csat is not None:
        line += f"  :star: Rating received: {case.csat}/5."
    return line


def _buttons(case: Case) -> list[dict[str, Any]]:
    status = case.status
    if status not in OPEN:
        return []
    wanted = [(CLAIM, "Claim", "primary")] if status in WAITING else []
    wanted += [(RETURN, "Return to bot", None), (RESOLVE, "Resolve", None)]
    buttons = []
    for action_id, title, style in wanted:
        button: dict[str, Any] = {"type": "button", "action_id": action_id,
                                  "value": case.case_id,
                                  "text": {"type": "plain_text", "text": title}}
        if style:
            button["style"] = style
        buttons.append(button)
    return buttons


def _refusal(case: Case | None, case_id: str, agent: str, what: str) -> str:
    """Why an agent's action on a case did not happen, for that agent."""
    if case is None:
        return f"Case {case_id} does not exist (any more), so {what}."
    status = case.status
    if status is CaseStatus.ACTIVE and case.agent == agent:
        return f"You already have case {case_id}."
    if status is CaseStatus.ACTIVE:
        return f"Case {case_id} is already claimed by {_mention(case.agent)}, so {what}."
    if status in WAITING:
        return f"Case {case_id} is still waiting: claim it first ({what})."
    return f"Case {case_id} is already {CLOSED_WORDS.get(status, status)}, so {what}."


def _mention(agent: str | None) -> str:
    if not agent:
        return "an agent"
    if agent.startswith(AGENT_PREFIX):
        return f"<@{agent[len(AGENT_PREFIX):]}>"
    return f"{escape(_who(agent))} (console)"


def _who(agent: str | None) -> str:
    return agent or "an agent"  # agents see each other's console logins


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}}


_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]+))?>")


def _plain(text: str) -> str:
    """What an agent wrote in Slack, as the customer should read it: links spelled out, Slack's
    escaping undone."""
    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        target = target.removeprefix("mailto:")
        return f"{label} ({target})" if label and label != target else target

    text = _LINK.sub(link, text)
    return unescape(text).strip()


__all__ = ["SlackInbox", "InboxConfig", "SLACK_INBOX_KEY", "attach", "render_case"]
