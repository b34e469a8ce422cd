"""Runs the whole assistant on one machine: demo backend, action server, Rasa server, gateway.

`python -m bot.stack` (what `make run` calls) trains the model if needed, starts every process
with the embedded defaults (SQLite for the gateway's state and for Rasa's trackers under var/, no
platform accounts), binds each to 127.0.0.1, gives each pair of processes a fresh shared secret
(Rasa's token, the action server's token, the backend's token, the handoff secret), prints the
web chat URL, watches the processes and restarts one that dies (with backoff, saying so), and
stops everything cleanly on Ctrl-C. The integration tests use the same `Stack` class with free
ports and a temporary state directory."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable

import aiohttp

from analytics.pseudonyms import ENV as PSEUDONYM_ENV
from analytics.pseudonyms import stored_key
from bot.model_cache import ROOT, ensure_model, quiet_env

log = logging.getLogger(__name__)

RESTART_FIRST_S = 1.0
RESTART_MAX_S = 30.0
STABLE_AFTER_S = 60.0  # a process up this long has its backoff reset


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Ports:
    gateway: int = 8080
    rasa: int = 5005
    actions: int = 5055
    backend: int = 8081
    # More Rasa servers beside the first (they need the Redis tracker and lock stores).
    more_rasa: tuple[int, ...] = ()

    @classmethod
    def free(cls, *, rasa_servers: int = 1) -> Ports:
        return cls(gateway=free_port(), rasa=free_port(), actions=free_port(), backend=free_port(),
                   more_rasa=tuple(free_port() for _ in range(rasa_servers - 1)))

    @property
    def all_rasa(self) -> tuple[int, ...]:
        return (self.rasa, *self.more_rasa)


@dataclass
class Process:
    name: str
    argv: list[str]
    health_url: str
    env: dict[str, str]
    popen: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass
class Stack:
    ports: Ports = field(default_factory=Ports)
    state_dir: Path = ROOT / "var"
    redis_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    say: Callable[[str], None] = field(default=lambda line: print(line, flush=True))

    def __post_init__(self) -> None:
        if self.ports.more_rasa and not self.redis_url:
            raise ValueError("more than one Rasa server needs Redis (their trackers and locks "
                             "must be shared): set redis_url")
        self.handoff_secret = secrets.token_urlsafe(24)
        self.rasa_token = secrets.token_urlsafe(24)
        self.action_token = secrets.token_urlsafe(24)
        self.backend_token = secrets.token_urlsafe(24)
        self.metrics_token = secrets.token_urlsafe(24)
        # A demo agent for the console, with a fresh password each run (unless accounts are
        # configured), so `make run` shows the whole handoff loop without any set-up.
        self.demo_agent = ("demo@northwind.example", secrets.token_urlsafe(9))
        self.python = sys.executable
        self._stopping = False

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    def env(self) -> dict[str, str]:
        p = self.ports
        redis_host, redis_port, redis_db = "127.0.0.1", "6379", "0"
        if self.redis_url:
            from urllib.parse import urlsplit

            parts = urlsplit(self.redis_url)
            redis_host = parts.hostname or redis_host
            redis_port = str(parts.port or 6379)
            redis_db = (parts.path or "/0").lstrip("/") or "0"
        env = {
            # gateway
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(p.gateway),
            "GATEWAY_DB": str(self.state_dir / "gateway.db"),
            "RASA_URL": ",".join(f"http://127.0.0.1:{port}" for port in p.all_rasa),
            "RASA_TOKEN": self.rasa_token,
            "HANDOFF_SECRET": self.handoff_secret,
            "REDIS_URL": self.redis_url or "",
            "CUSTOMERS_API_URL": f"http://127.0.0.1:{p.backend}",
            "BACKEND_API_TOKEN": self.backend_token,
            # actions
            "ORDERS_API_URL": f"http://127.0.0.1:{p.backend}",
            "IDENTITY_API_URL": f"http://127.0.0.1:{p.backend}",
            "GATEWAY_HANDOFF_URL": f"http://127.0.0.1:{p.gateway}/handoff/v1/cases",
            "ACTION_SERVER_HOST": "127.0.0.1",
            "ACTION_SERVER_TOKEN": self.action_token,
            # demo backend
            "DEMO_BACKEND_HOST": "127.0.0.1",
            "DEMO_BACKEND_PORT": str(p.backend),
            "DEMO_BACKEND_DB": str(self.state_dir / "demo-backend.db"),
            # rasa (endpoints.yml)
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{p.actions}/webhook",
            "RASA_TRACKER_STORE": "redis" if self.redis_url else "sql",
            "RASA_TRACKER_URL": redis_host if self.redis_url
            else f"sqlite:///{self.state_dir / 'rasa-tracker.db'}",
            "RASA_LOCK_STORE": "redis" if self.redis_url else "in_memory",
            "RASA_LOCK_URL": redis_host,
            "RASA_REDIS_PORT": redis_port,
            "RASA_REDIS_DB": redis_db,
            "RASA_REDIS_PASSWORD": "",
            # Not the gateway's "helpdesk:": Rasa's lock store and the gateway's conversation
            # locks would both be <prefix>:lock:<conversation>, and read each other's values.
            "RASA_REDIS_KEY_PREFIX": "rasa",
            "TRACKER_RETENTION_DAYS": "30",
            "TRACKER_CONTACT_HOURS": "24",
            "RASA_TRACKER_WINDOW_EVENTS": "",  # blank: the store's default (60 events)
            # analytics (docs/analytics.md): Rasa and the gateway write to one SQLite file
            "ANALYTICS_BROKER": "store",
            "ANALYTICS_BROKER_URL": f"sqlite:///{self.state_dir / 'analytics.db'}",
            "ANALYTICS_DB_URL": f"sqlite:///{self.state_dir / 'analytics.db'}",
            "ANALYTICS_SPOOL_DIR": str(self.state_dir / "spool"),
            # With ANALYTICS_BROKER=pika (the production profile) the stack also runs the
            # analytics consumer, its metrics on this port.
            "ANALYTICS_METRICS_PORT": str(free_port()),
            "METRICS_TOKEN": self.metrics_token,
        }
        if not os.environ.get(PSEUDONYM_ENV):
            env[PSEUDONYM_ENV] = stored_key(self.state_dir / "analytics.key")
        if not (os.environ.get("AGENT_ACCOUNTS") or os.environ.get("AGENT_ACCOUNTS_FILE")):
            from inbox.agents import hash_password

            # A lead: `make run` shows the dashboard too.
            env["AGENT_ACCOUNTS"] = (f"{self.demo_agent[0]}:{hash_password(self.demo_agent[1])}"
                                     ":lead")
        # Anything already set in the environment wins over the embedded defaults.
        merged = {k: os.environ.get(k, v) for k, v in env.items()}
        merged.update(self.extra_env)
        return quiet_env(merged)

    def plan(self, model: Path) -> list[Process]:
        p, env = self.ports, self.env()
        return [
            Process("demo backend", [self.python, "-m", "backends"],
                    f"http://127.0.0.1:{p.backend}/healthz", env),
            Process("action server", [self.python, "-m", "actions.server",
                                      "--port", str(p.actions)],
                    f"http://127.0.0.1:{p.actions}/health", env),
            *(Process("rasa server" + (f" {n}" if n > 1 else ""),
                      [self.python, "-m", "bot.rasa_server", "run", "--enable-api",
                       "-i", "127.0.0.1", "-p", str(port),
                       "--model", str(model), "--endpoints", "endpoints.yml",
                       "--credentials", "credentials.yml"],
                      f"http://127.0.0.1:{port}/status?token={env['RASA_TOKEN']}", env)
              for n, port in enumerate(p.all_rasa, start=1)),
            Process("gateway", [self.python, "-m", "bot"],
                    f"http://127.0.0.1:{p.gateway}/healthz", env),
            *([Process("analytics consumer", [self.python, "-m", "analytics", "consume"],
                       f"http://127.0.0.1:{env['ANALYTICS_METRICS_PORT']}/metrics", env)]
              if env.get("ANALYTICS_BROKER") == "pika" else []),
        ]

    async def start(self, *, timeout_s: float = 180.0) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "logs").mkdir(exist_ok=True)
        model = await asyncio.to_thread(ensure_model)
        self.processes = self.plan(model)
        for proc in self.processes:
            self.spawn(proc)
        try:
            await asyncio.gather(*(self.wait_healthy(p, timeout_s) for p in self.processes))
        except BaseException:
            self.stop()
            raise

    def spawn(self, proc: Process) -> None:
        safe = proc.name.replace(" ", "-")
        if proc.log_file is None or proc.log_file.closed:
            proc.log_file = open(self.state_dir / "logs" / f"{safe}.log", "ab")
        proc.popen = subprocess.Popen(proc.argv, cwd=ROOT, env=proc.env, stdout=proc.log_file,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        proc.started_at = time.monotonic()
        self.say(f"    starting {proc.name} (pid {proc.popen.pid})")

    async def wait_healthy(self, proc: Process, timeout_s: float = 120.0) -> float:
        """Seconds until the process answered its health check."""
        started = time.monotonic()
        async with aiohttp.ClientSession() as http:
            while time.monotonic() - started < timeout_s:
                assert proc.popen is not None
                if proc.popen.poll() is not None:
                    raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; see "
                                       f"{self.state_dir / 'logs'}")
                try:
                    async with http.get(proc.health_url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                        if r.status == 200:
                            took = time.monotonic() - started
                            self.say(f"    {proc.name} ready in {took:.1f}s")
                            return took
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                await asyncio.sleep(0.25)
        raise TimeoutError(f"{proc.name} not healthy after {timeout_s:.0f}s")

    def kill(self, proc: Process, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send a signal to the process group (fault-injection tests end processes this way)."""
        if proc.popen is not None and proc.popen.poll() is None:
            try:
                os.killpg(proc.popen.pid, sig)
            except ProcessLookupError:
                pass
            proc.popen.wait()

    def stop_process(self, proc: Process, *, timeout_s: float = 20.0) -> None:
        if proc.popen is None or proc.popen.poll() is not None:
            return
        try:
            os.killpg(proc.popen.pid, signal.SIGTERM)
            proc.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait()
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        self._stopping = True
        for proc in reversed(self.processes):
            self.stop_process(proc)
        for proc in self.processes:
            if proc.log_file is not None:
                proc.log_file.close()

    def process(self, name: str) -> Process:
        return next(p for p in self.processes if p.name == name)

    async def restart(self, proc: Process, *, timeout_s: float = 180.0) -> float:
        """Start a stopped (or killed) process again and wait until it is healthy."""
        self.stop_process(proc)
        self.spawn(proc)
        return await self.wait_healthy(proc, timeout_s)

    async def supervise(self, stop: asyncio.Event) -> None:
        """Bring back a process that dies, waiting longer after each quick death (1 s doubling
        to 30 s, reset once it has stayed up a minute), and say so; until `stop` is set."""
        delays = {p.name: RESTART_FIRST_S for p in self.processes}
        while not stop.is_set():
            for proc in self.processes:
                if stop.is_set() or self._stopping or proc.running() or proc.popen is None:
                    if proc.running() and time.monotonic() - proc.started_at > STABLE_AFTER_S:
                        delays[proc.name] = RESTART_FIRST_S
                    continue
                code = proc.popen.returncode
                delay = delays[proc.name]
                self.say(f"!! {proc.name} exited ({code}); restarting it in {delay:.0f}s "
                         f"(logs in {self.state_dir / 'logs'})")
                if await _stopped_within(stop, delay):
                    return
                delays[proc.name] = min(delay * 2, RESTART_MAX_S)
                proc.restarts += 1
                self.spawn(proc)
                try:
                    took = await self.wait_healthy(proc)
                except (RuntimeError, TimeoutError) as exc:
                    self.say(f"!! {proc.name} did not come back: {exc}")
                    continue
                self.say(f"==> {proc.name} is back (restart {proc.restarts}, {took:.1f}s)")
            await _stopped_within(stop, 0.5)


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        return False
    return True


async def _run() -> None:
    stack = Stack()
    print("==> starting the assistant (demo backend, action server, Rasa server, gateway)",
          flush=True)
    started = time.monotonic()
    await stack.start()
    print(f"==> ready in {time.monotonic() - started:.0f}s. Web chat: {stack.gateway_url}/", flush=True)
    if not (os.environ.get("AGENT_ACCOUNTS") or os.environ.get("AGENT_ACCOUNTS_FILE")):
        print(f"    agent console: {stack.gateway_url}/console/  (sign in as {stack.demo_agent[0]}, "
              f"password {stack.demo_agent[1]}; new each run)", flush=True)
    print(f"    metrics: {stack.gateway_url}/metrics  (Authorization: Bearer {stack.metrics_token}); "
          f"figures: python -m analytics report --since 7d", flush=True)
    print(f"    logs in {stack.state_dir / 'logs'}; a process that dies is restarted; press "
          "Ctrl-C to stop", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stack.supervise(stop)
    print("\n==> stopping", flush=True)
    stack.stop()
    print("==> stopped", flush=True)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    try:
        asyncio.run(_run())
    except KeyboardInterrupt:
        print("\n==> interrupted; everything started so far was stopped", flush=True)
    except (RuntimeError, TimeoutError) as exc:
        print(f"!! {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
