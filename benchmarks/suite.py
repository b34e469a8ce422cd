"""`make bench`: the speed and cost figures of the real stack in one run, printed and written as
JSON (benchmarks/results/suite-<time>.json, and latest.json) with the machine's description.

    python -m benchmarks.suite [--compare benchmarks/results/<earlier>.json] [--only nlu,curve]
    python -m benchmarks.suite --compare-only NEW.json OLD.json

Sections (each measured from outside, on the processes `make run` starts, unless it says so):
- training: `rasa train` from scratch (empty Rasa cache, temporary output), seconds;
- encoder: the sentence encoder alone, per variant (fp32, int8) and thread count: ms per message
  and cosine to fp32 (in-process: the encoder is a library);
- variants: NLU accuracy and in-process parse time with the int8 encoder (a second model trained
  into a temporary directory), beside the project's model;
- start: each process's seconds to healthy, Rasa's resident memory;
- nlu: Rasa's POST /model/parse over both held-out files: latency p50/p99 and accuracy;
- webchat: web chat turns over the websocket (FAQ, handoff), p50/p95;
- curve: one web chat conversation of 400 turns, median turn time around turns 10, 50, 100, 200
  and 400, on the embedded default (SQLite) and on Redis (no sleeping: the session stays open);
- throughput: messages per second through the web chat with one and with two Rasa servers (Redis
  stores) at 1, 8 and 32 concurrent conversations.

Figures are never asserted; `--compare` prints each figure's ratio to an earlier results file.
Each section catches its own failure and records it, so one broken section (or one that an older
checkout cannot run) leaves the rest."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable

import aiohttp

from benchmarks.results import RESULTS
from bot.model_cache import ROOT, TRAIN_ARGS, ensure_model

try:
    from bot.model_cache import training_env
except ImportError:  # an older checkout measured with this suite
    from bot.model_cache import quiet_env as training_env
from bot.stack import Ports, Stack
from tests.chat_client import ChatClient

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
FAQ_CYCLE = ["how much is shipping", "do you ship to canada", "what is your return policy",
             "how long does shipping take", "what payment methods do you accept",
             "do you sell gift cards", "what are your support hours", "thanks"]
CURVE_POINTS = (10, 50, 100, 200, 400)
CONCURRENCY = (1, 8, 32)
Section = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


# --- helpers --------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summary(samples: list[float]) -> dict[str, float]:
    return {"n": len(samples), "p50_ms": round(percentile(samples, 50), 2),
            "p95_ms": round(percentile(samples, 95), 2),
            "p99_ms": round(percentile(samples, 99), 2),
            "mean_ms": round(statistics.fmean(samples), 2)}


def say(line: str) -> None:
    print(line, flush=True)


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    return {"host": platform.node(), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gb": round(mem_kb / 1024 / 1024, 1), "python": platform.python_version(),
            "load_average_at_start": os.getloadavg(), "commit": commit,
            "root": str(ROOT), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


class RunningStack:
    """A Stack on free ports and a temporary state directory, with each process's ready time."""

    def __init__(self, *, redis: bool = False, rasa_servers: int = 1) -> None:
        self.state = tempfile.TemporaryDirectory()
        self.ready: dict[str, float] = {}
        extra = {}
        ports = Ports.free(rasa_servers=rasa_servers) if rasa_servers > 1 else Ports.free()
        if redis:
            run = uuid.uuid4().hex[:8]
            extra = {"REDIS_PREFIX": f"bench-{run}:", "RASA_REDIS_KEY_PREFIX": f"benchrasa-{run}"}
        self.stack = Stack(ports=ports, state_dir=Path(self.state.name),
                           redis_url=REDIS_URL if redis else None, extra_env=extra,
                           say=self._heard)

    def _heard(self, line: str) -> None:
        line = line.strip()
        if " ready in " in line:
            name, _, took = line.partition(" ready in ")
            self.ready[name] = float(took.rstrip("s"))

    async def __aenter__(self) -> Stack:
        await self.stack.start()
        return self.stack

    async def __aexit__(self, *exc: object) -> None:
        self.stack.stop()
        self.state.cleanup()


async def open_chat(http: aiohttp.ClientSession, stack: Stack) -> ChatClient:
    chat = ChatClient(await http.ws_connect(f"{stack.gateway_url}/webchat/ws"))
    await chat.hello()
    return chat


async def timed_turn(chat: ChatClient, text: str) -> float:
    started = time.perf_counter()
    await chat.turn(text, timeout=120)
    return (time.perf_counter() - started) * 1000


# --- sections -----------------------------------------------------------------------------------
async def training(results: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        env = training_env({"RASA_CACHE_DIRECTORY": str(Path(scratch) / "cache")})
        started = time.monotonic()
        done = await asyncio.to_thread(subprocess.run, [
            str(Path(sys.executable).parent / "rasa"), "train", "--config", "config.yml",
            "--domain", "domain.yml", "--data", "data", "--out", scratch,
            "--fixed-model-name", "bench", *TRAIN_ARGS],
            cwd=ROOT, env=env, capture_output=True)
        took = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(done.stdout.decode(errors="replace")[-2000:])
    say(f"training from scratch: {took:.1f} s")
    return {"from_scratch_s": round(took, 1)}


async def encoder(results: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    from bot.encoder.converted import Variant
    from bot.encoder.sentence_encoder import SentenceEncoder
    from tests.nlu.heldout_report import HELDOUT_FILES, load_examples

    texts = [t for path in HELDOUT_FILES for t, _ in load_examples(path)]
    reference = SentenceEncoder(Variant.FP32, threads=1).encode(texts)
    found: dict[str, Any] = {}
    for variant in Variant:
        for threads in (1, 2):
            model = SentenceEncoder(variant, threads=threads)
            vectors = model.encode(texts)
            samples = []
            for text in texts:
                started = time.perf_counter()
                model.encode([text])
                samples.append((time.perf_counter() - started) * 1000)
            cosine = (vectors * reference).sum(axis=1)
            found[f"{variant.value}_threads{threads}"] = {
                **summary(samples), "min_cosine_to_fp32": round(float(np.min(cosine)), 5)}
            say(f"encoder {variant.value} threads={threads}: p50 {percentile(samples, 50):.2f} ms, "
                f"min cosine to fp32 {float(np.min(cosine)):.5f}")
    return found


async def variants(results: dict[str, Any]) -> dict[str, Any]:
    """The project's model and one trained with the int8 encoder, each parsed in-process."""
    from tests.nlu.heldout_report import HELDOUT_FILES, full_intent, load_examples, score

    async def measure(model: Path) -> dict[str, Any]:
        from rasa.core.agent import Agent

        agent = Agent.load(str(model))
        await agent.parse_message("warm up")
        out: dict[str, Any] = {}
        for path in HELDOUT_FILES:
            pairs, samples = [], []
            for text, expected in load_examples(path):
                started = time.perf_counter()
                parsed = await agent.parse_message(text)
                samples.append((time.perf_counter() - started) * 1000)
                pairs.append((text, expected, full_intent(parsed)))
            report = score(pairs)
            out[path.name] = {"in_scope_accuracy": round(report.in_scope_accuracy, 3),
                              "out_of_scope_recall": round(report.out_of_scope_recall, 3),
                              "in_scope_fallback_rate": round(report.in_scope_fallback_rate, 3),
                              "parse_in_process": summary(samples)}
        return out

    found = {"project": await measure(ensure_model())}
    config = (ROOT / "config.yml").read_text()
    if "variant: fp32" not in config:
        return {**found, "int8": "skipped: config.yml has no encoder variant"}
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "config.yml").write_text(config.replace("variant: fp32", "variant: int8"))
        done = await asyncio.to_thread(subprocess.run, [
            str(Path(sys.executable).parent / "rasa"), "train", "--config",
            str(Path(scratch) / "config.yml"), "--domain", "domain.yml", "--data", "data",
            "--out", scratch, "--fixed-model-name", "int8", *TRAIN_ARGS],
            cwd=ROOT, env=training_env(), capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(done.stdout.decode(errors="replace")[-2000:])
        found["int8"] = await measure(Path(scratch) / "int8.tar.gz")
    for name, per_file in found.items():
        for file, figures in per_file.items():
            say(f"variant {name} {file}: in-scope {figures['in_scope_accuracy']:.3f}, "
                f"oos recall {figures['out_of_scope_recall']:.3f}, parse p50 "
                f"{figures['parse_in_process']['p50_ms']:.1f} ms (in-process)")
    return found


async def embedded(results: dict[str, Any]) -> dict[str, Any]:
    """Start-up, NLU, web chat turns and the turn-cost curve on the embedded default stack."""
    from tests.nlu.heldout_report import HELDOUT_FILES, full_intent, load_examples, score

    started = time.monotonic()
    running = RunningStack()
    found: dict[str, Any] = {}
    async with running as stack:
        found["start"] = {"stack_ready_s": round(time.monotonic() - started, 1),
                          "ready_s": running.ready,
                          "rasa_rss_mb": rss_mb(stack.process("rasa server").pid)}
        say(f"start: {found['start']}")
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{stack.ports.rasa}/model/parse"
            nlu: dict[str, Any] = {}
            for path in HELDOUT_FILES:
                pairs, samples = [], []
                for text, expected in load_examples(path):
                    t0 = time.perf_counter()
                    async with http.post(url, params={"token": stack.rasa_token},
                                         json={"text": text}) as resp:
                        parsed = await resp.json()
                    samples.append((time.perf_counter() - t0) * 1000)
                    pairs.append((text, expected, full_intent(parsed)))
                report = score(pairs)
                nlu[path.name] = {"parse": summary(samples),
                                  "in_scope_accuracy": round(report.in_scope_accuracy, 3),
                                  "out_of_scope_recall": round(report.out_of_scope_recall, 3),
                                  "in_scope_fallback_rate": round(report.in_scope_fallback_rate, 3)}
                say(f"nlu {path.name}: /model/parse p50 {nlu[path.name]['parse']['p50_ms']} ms, "
                    f"in-scope {report.in_scope_accuracy:.3f}, oos {report.out_of_scope_recall:.3f}")
            found["nlu"] = nlu
            found["webchat"] = await webchat_turns(http, stack)
            found["curve_sqlite"] = await curve(http, stack)
    return found


async def webchat_turns(http: aiohttp.ClientSession, stack: Stack, rounds: int = 40) -> dict[str, Any]:
    faq, handoff = [], []
    warm = await open_chat(http, stack)
    await warm.turn("hello")
    await warm.close()
    for _ in range(rounds):
        chat = await open_chat(http, stack)
        faq.append(await timed_turn(chat, "how much is shipping"))
        await chat.close()
        chat = await open_chat(http, stack)
        handoff.append(await timed_turn(chat, "agent"))
        await chat.turn("never mind")
        await chat.close()
    found = {"faq_turn": summary(faq), "handoff_turn": summary(handoff)}
    say(f"webchat: faq p50 {found['faq_turn']['p50_ms']} ms, handoff p50 "
        f"{found['handoff_turn']['p50_ms']} ms")
    return found


async def curve(http: aiohttp.ClientSession, stack: Stack, turns: int = max(CURVE_POINTS)) -> dict[str, Any]:
    """One conversation, `turns` turns back to back; the median of the nine turns around each
    point (the last nine for the last point). The web chat allows 20 messages per 10 s on one
    socket, so the customer reconnects to the same conversation every 15 turns (not timed), as
    after a page reload; nobody waits, so Rasa's session never expires."""
    chat = await open_chat(http, stack)
    samples = []
    for n in range(turns):
        if n and n % 15 == 0:
            session = chat.session
            await chat.close()
            chat = ChatClient(await http.ws_connect(f"{stack.gateway_url}/webchat/ws"))
            await chat.hello(session)
        samples.append(await timed_turn(chat, FAQ_CYCLE[n % len(FAQ_CYCLE)]))
    await chat.close()
    points = {}
    for point in CURVE_POINTS:
        window = samples[max(0, point - 5):point + 4] if point < turns else samples[-9:]
        points[str(point)] = round(statistics.median(window), 2)
    found = {"median_ms_at_turn": points, "samples_ms": [round(x, 1) for x in samples],
             "turn200_over_turn10": round(points["200"] / points["10"], 2),
             "turn400_over_turn10": round(points["400"] / points["10"], 2)}
    say(f"curve: {points} (turn 200 / turn 10 = {found['turn200_over_turn10']})")
    return found


async def on_redis(results: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    async with RunningStack(redis=True) as stack:
        async with aiohttp.ClientSession() as http:
            found["curve_redis"] = await curve(http, stack)
            found["throughput_1_rasa"] = await throughput(http, stack, servers=1)
    return found


async def two_rasa(results: dict[str, Any]) -> dict[str, Any]:
    running = RunningStack(redis=True, rasa_servers=2)
    async with running as stack:
        async with aiohttp.ClientSession() as http:
            return {"ready_s": running.ready,
                    "throughput_2_rasa": await throughput(http, stack, servers=2)}


async def throughput(http: aiohttp.ClientSession, stack: Stack, *, servers: int,
                     per_chat: int = 6) -> dict[str, Any]:
    found = {}
    for concurrency in CONCURRENCY:
        chats = [await open_chat(http, stack) for _ in range(concurrency)]
        await asyncio.gather(*(c.turn("hello") for c in chats))  # sessions started, not timed

        async def run(chat: ChatClient, offset: int) -> None:
            for n in range(per_chat):
                await chat.turn(FAQ_CYCLE[(offset + n) % len(FAQ_CYCLE)], timeout=180)

        started = time.perf_counter()
        await asyncio.gather(*(run(c, i) for i, c in enumerate(chats)))
        took = time.perf_counter() - started
        for chat in chats:
            await chat.close()
        found[str(concurrency)] = {"messages": concurrency * per_chat,
                                   "messages_per_s": round(concurrency * per_chat / took, 1)}
        say(f"throughput ({servers} rasa) at {concurrency} conversations: "
            f"{found[str(concurrency)]['messages_per_s']} msg/s")
    return found


# The stacks first: the in-process sections load TensorFlow models into this process and train,
# which must not share the machine with the turns being timed.
SECTIONS: dict[str, Section] = {"embedded": embedded, "redis": on_redis, "two_rasa": two_rasa,
                                "encoder": encoder, "variants": variants, "training": training}


# --- results ----------------------------------------------------------------------------------
def flatten(value: Any, prefix: str = "") -> dict[str, float]:
    if isinstance(value, dict):
        out: dict[str, float] = {}
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {prefix: float(value)}
    return {}


def compare(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    a, b = flatten(new.get("figures", {})), flatten(old.get("figures", {}))
    lines = [f"compared with {old.get('machine', {}).get('commit')} "
             f"({old.get('machine', {}).get('started')}): new / old"]
    for key in sorted(set(a) & set(b)):
        if b[key]:
            lines.append(f"  {key:<70} {b[key]:>10.2f} -> {a[key]:>10.2f}  x{a[key] / b[key]:.2f}")
    return lines


async def main(only: set[str] | None, against: Path | None) -> Path:
    results: dict[str, Any] = {"machine": machine(), "figures": {}, "errors": {}}
    say(f"machine: {results['machine']}")
    for name, section in SECTIONS.items():
        if only and name not in only:
            continue
        say(f"== {name}")
        started = time.monotonic()
        try:
            results["figures"][name] = await section(results)
        except Exception as exc:  # recorded, and the other sections still run
            results["errors"][name] = f"{type(exc).__name__}: {exc}"
            say(f"!! {name} failed: {exc}\n{traceback.format_exc(limit=3)}")
        say(f"   ({time.monotonic() - started:.0f} s)")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"suite-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    shutil.copyfile(path, RESULTS / "latest.json")
    say(f"(written to {path})")
    if against is not None:
        say("\n".join(compare(results, json.loads(against.read_text()))))
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", type=Path, help="an earlier results file")
    parser.add_argument("--only", help=f"comma-separated sections of {', '.join(SECTIONS)}")
    parser.add_argument("--compare-only", nargs=2, type=Path, metavar=("NEW", "OLD"))
    args = parser.parse_args()
    if args.compare_only:
        new, old = (json.loads(p.read_text()) for p in args.compare_only)
        print("\n".join(compare(new, old)))
    else:
        asyncio.run(main(set(args.only.split(",")) if args.only else None, args.compare))
