"""A RabbitMQ node of a test's own (its own name, ports and data directory): one it may stop and
start again without disturbing the machine's shared server on 5672."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from bot.stack import free_port


class RabbitServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.dist_port = free_port()
        # The server script drops to the rabbitmq user: its directory must be one that user
        # can reach (pytest's temporary directories are private to root) and write.
        directory = Path(tempfile.mkdtemp(prefix="helpdesk-rabbitmq-"))
        os.chmod(directory, 0o777)
        self.directory = directory
        self.name = f"helpdesk-test-{uuid.uuid4().hex[:8]}@localhost"
        self.process: subprocess.Popen[bytes] | None = None
        (directory / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
                                                 "loopback_users = none\n")
        os.chmod(directory / "rabbitmq.conf", 0o644)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        d = self.directory
        return {**os.environ, "RABBITMQ_NODENAME": self.name, "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port), "RABBITMQ_BASE": str(d),
                "RABBITMQ_MNESIA_BASE": str(d / "mnesia"), "RABBITMQ_LOG_BASE": str(d / "log"),
                "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
                "RABBITMQ_PID_FILE": str(d / "pid")}

    def start(self, *, timeout_s: float = 60.0) -> float:
        """Seconds until the node accepts AMQP connections."""
        binary = shutil.which("rabbitmq-server")
        assert binary, "rabbitmq-server is needed (make test-deps checks for it)"
        started = time.monotonic()
        self.process = subprocess.Popen([binary], env=self._env(), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        while time.monotonic() - started < timeout_s:
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited ({self.process.returncode}); "
                                   f"see {self.directory / 'log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return time.monotonic() - started
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("rabbitmq-server did not open its port")

    def _beam_pid(self) -> int | None:
        try:
            return int((self.directory / "pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM: RabbitMQ's orderly shutdown; kill: SIGKILL (what a crash or OOM does). The
        Erlang VM runs as the rabbitmq user in a session of its own: it is found by its pid file."""
        pid = self._beam_pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.05)
            (self.directory / "pid").unlink(missing_ok=True)
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self.process = None


    def remove(self) -> None:
        self.stop(kill=True)
        shutil.rmtree(self.directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie of another session counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False
