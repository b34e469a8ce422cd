"""python -m analytics report --since 7d    figures as a table, plots as PNG files
python -m analytics review                  training candidates into data/review/ (make review)
python -m analytics consume                 the RabbitMQ consumer (production)

The database: --db, else ANALYTICS_DB_URL, else the embedded default's var/analytics.db."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import sys
import time
from pathlib import Path

from analytics.figures import FigureConfig
from analytics.store import AnalyticsStore

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = f"sqlite:///{ROOT / 'var' / 'analytics.db'}"
_SPAN = re.compile(r"^(\d+)([hdw])$")


def span_seconds(text: str) -> float:
    match = _SPAN.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: use a number and h, d or w (7d, 24h, 2w)")
    return int(match.group(1)) * {"h": 3600, "d": 86400, "w": 7 * 86400}[match.group(2)]


def database(args: argparse.Namespace) -> str:
    return args.db or os.environ.get("ANALYTICS_DB_URL") or DEFAULT_DB


async def report(args: argparse.Namespace) -> int:
    from analytics.report import build, plots, table

    now = args.now if args.now is not None else time.time()
    since = now - args.since
    config = FigureConfig(inactivity_s=args.inactivity_minutes * 60,
                          recontact_s=args.recontact_days * 86400)
    store = AnalyticsStore(database(args))
    try:
        # Back to the first-contact window's start, with each conversation's earlier events.
        records = await store.records_around(since - config.recontact_s)
    finally:
        await store.close()
    built = build(records, since=since, until=now, now=now, config=config)
    print(table(built))
    out = Path(args.out)
    written = plots(built, out)
    (out / "figures.json").write_text(json.dumps(built.overall.as_dict(), indent=2))
    print(f"\nplots: {', '.join(str(p) for p in written)}; figures: {out / 'figures.json'}")
    return 0


async def review(args: argparse.Namespace) -> int:
    from analytics.review import candidates, run
    from bot.model_cache import training_data

    now = time.time()
    store = AnalyticsStore(database(args))
    try:
        records = await store.records_around(now - args.since)
    finally:
        await store.close()
    out = Path(args.out)
    result = run(candidates(records, now=now, low_confidence=args.low_confidence),
                 review_dir=out, training_files=training_data())
    print(f"{result.written} candidate(s) in {out / 'candidates.yml'}; recorded "
          f"{result.newly_accepted} accepted and {result.newly_rejected} rejected since the last "
          f"review; {result.skipped_decided} already decided or in the data")
    return 0


async def consume(args: argparse.Namespace) -> int:
    from aiohttp import web

    from analytics.consumer import Consumer, ConsumerMetrics, metrics_app
    from analytics.pseudonyms import pseudonyms_from_env

    amqp = os.environ.get("ANALYTICS_AMQP_URL") or os.environ.get("ANALYTICS_BROKER_URL", "")
    if not amqp.startswith("amqp"):
        print("set ANALYTICS_AMQP_URL (amqp://...)", file=sys.stderr)
        return 2
    metrics = ConsumerMetrics()
    consumer = Consumer(amqp, AnalyticsStore(database(args)), pseudonyms_from_env(), metrics)
    runner = web.AppRunner(metrics_app(metrics.registry))
    await runner.setup()
    host = os.environ.get("ANALYTICS_METRICS_HOST", "127.0.0.1")
    port = int(os.environ.get("ANALYTICS_METRICS_PORT", "9109"))
    await web.TCPSite(runner, host, port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await consumer.run(stop)
    finally:
        await runner.cleanup()
        await consumer.store.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analytics")
    parser.add_argument("--db", help="SQLAlchemy URL of the analytics database")
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("report", help="figures as a table and PNG plots")
    r.add_argument("--since", type=span_seconds, default=span_seconds("7d"),
                   help="how far back (7d, 24h, 2w)")
    r.add_argument("--out", default=str(ROOT / "var" / "report"), help="where the PNGs go")
    r.add_argument("--inactivity-minutes", type=float, default=30.0,
                   help="a conversation idle this long has ended")
    r.add_argument("--recontact-days", type=float, default=7.0,
                   help="a customer back within this long was not resolved first time")
    r.add_argument("--now", type=float, default=None, help=argparse.SUPPRESS)
    v = commands.add_parser("review", help="training candidates into data/review/")
    v.add_argument("--since", type=span_seconds, default=span_seconds("30d"))
    v.add_argument("--out", default=str(ROOT / "data" / "review"))
    v.add_argument("--low-confidence", type=float, default=0.6,
                   help="predictions below this confidence are proposed for review")
    commands.add_parser("consume", help="store events from RabbitMQ (production)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.command == "consume" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    handler = {"report": report, "review": review, "consume": consume}[args.command]
    return asyncio.run(handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
