"""A redis-server of a test's own: one it may kill, restart or cut clients of without disturbing
the machine's shared Redis the rest of the suite uses."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from bot.stack import free_port


class RedisServer:
    """Append-only persistence with fsync on every write, as docs/operations.md tells operators
    to configure it: what was acknowledged survives a SIGKILL."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed (make test-deps installs it)"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def cut_subscribers(self) -> int:
        """Disconnect every pub/sub client (what a network blip or a failover does to them);
        returns how many were cut."""
        client = redis.Redis.from_url(self.url)
        try:
            return int(client.execute_command("CLIENT", "KILL", "TYPE", "pubsub"))
        finally:
            client.close()
