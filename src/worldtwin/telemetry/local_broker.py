"""A throw-away MQTT broker on 127.0.0.1 for tests, benchmarks and trying the live sources without a plant.

Debian's ``mosquitto`` (a separate process; ``scripts/install-system-deps.sh`` installs it) when it is
installed, else the pure-Python ``amqtt`` broker (in the ``dev`` extra) on a background thread.
Both listen on loopback only, on an ephemeral port unless one is given, with no persistence, and
can be stopped and started again on the same port (to test reconnects).

    with LocalBroker() as broker:
        print(broker.host, broker.port, broker.kind)
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from worldtwin.errors import DependencyError, WorldtwinError

BrokerKind = Literal["auto", "mosquitto", "amqtt"]
HOST = "127.0.0.1"


def mosquitto_path() -> str | None:
    """The mosquitto binary, also where Debian puts it outside a non-root PATH."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, timeout: float = 10.0, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
            return
        time.sleep(0.02)
    raise WorldtwinError(f"the local MQTT broker did not listen on {HOST}:{port} within {timeout} s")


class LocalBroker:
    """An MQTT broker on 127.0.0.1 (see module docstring). ``kind="auto"`` prefers mosquitto."""

    def __init__(
        self,
        port: int | None = None,
        kind: BrokerKind = "auto",
        users: dict[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        if kind == "auto":
            kind = "mosquitto" if mosquitto_path() else "amqtt"
        if kind == "mosquitto" and mosquitto_path() is None:
            raise DependencyError(
                "mosquitto is not installed; run scripts/install-system-deps.sh as root "
                "(apt-get install mosquitto) or use kind='amqtt'"
            )
        self.kind: Literal["mosquitto", "amqtt"] = kind
        self.host = HOST
        self.port = port or free_port()
        self.users = dict(users or {})
        """User → password; when given, anonymous clients are refused."""
        self.tls = tls
        """(certificate, private key) PEM files: the listener speaks TLS only (mosquitto only)."""
        if tls is not None and self.kind != "mosquitto":
            raise DependencyError("a TLS listener needs mosquitto (apt-get install mosquitto)")
        self._dir = tempfile.TemporaryDirectory(prefix="worldtwin-broker-")
        self._process: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None

    @property
    def running(self) -> bool:
        return self._process is not None or self._thread is not None

    def start(self) -> LocalBroker:
        if self.running:
            return self
        if self.kind == "mosquitto":
            self._start_mosquitto()
        else:
            self._start_amqtt()
        try:
            wait_listening(self.port, alive=lambda: self._process is None or self._process.poll() is None)
        except WorldtwinError:
            log = Path(self._dir.name) / "mosquitto.log"
            detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            self.stop()
            raise WorldtwinError(
                f"the {self.kind} broker did not start on {HOST}:{self.port}\n{detail}"
            ) from None
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
            self._process = None
        if self._thread is not None and self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def restart(self, down_for: float = 0.0) -> None:
        """Stop, wait ``down_for`` seconds, start again on the same port."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._dir.cleanup()

    def _start_mosquitto(self) -> None:
        config = Path(self._dir.name) / "mosquitto.conf"
        binary = mosquitto_path()
        assert binary is not None
        auth = "allow_anonymous true\n"
        if self.users:
            passwords = Path(self._dir.name) / "passwords"
            passwords.write_text("", encoding="utf-8")
            tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
            for user, password in self.users.items():
                subprocess.run([tool, "-b", str(passwords), user, password], check=True, capture_output=True)
            # mosquitto started as root reads the password file after dropping to its own user
            Path(self._dir.name).chmod(0o755)
            passwords.chmod(0o644)
            auth = f"allow_anonymous false\npassword_file {passwords}\n"
        if self.tls is not None:  # copied next to the config: mosquitto reads them after dropping root
            cert, key = (Path(self._dir.name) / name for name in ("server-cert.pem", "server-key.pem"))
            shutil.copyfile(self.tls[0], cert)
            shutil.copyfile(self.tls[1], key)
            for path in (cert, key):
                path.chmod(0o644)
            Path(self._dir.name).chmod(0o755)
            auth += f"certfile {cert}\nkeyfile {key}\n"
        config.write_text(
            f"listener {self.port} {HOST}\n{auth}persistence false\n"
            # An ingest client that briefly falls behind must not lose QoS>0 messages at the broker.
            "max_queued_messages 1000000\nmax_inflight_messages 0\n",
            encoding="utf-8",
        )
        log = (Path(self._dir.name) / "mosquitto.log").open("wb")
        self._process = subprocess.Popen(
            [binary, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def _start_amqtt(self) -> None:
        try:
            from amqtt.broker import Broker
        except ImportError as exc:
            raise DependencyError(
                "neither mosquitto nor amqtt is installed; install one: "
                "apt-get install mosquitto, or pip install 'worldtwin[dev]'"
            ) from exc
        plugins: dict[str, Any] = {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": not self.users}
        }
        if self.users:
            from pwdlib.hashers.argon2 import Argon2Hasher

            passwords = Path(self._dir.name) / "passwords"
            hasher = Argon2Hasher()
            passwords.write_text(
                "".join(f"{u}:{hasher.hash(p)}\n" for u, p in self.users.items()), encoding="utf-8"
            )
            plugins["amqtt.plugins.authentication.FileAuthPlugin"] = {"password_file": str(passwords)}
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{HOST}:{self.port}"}},
            "plugins": plugins,
        }
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._broker = Broker(config, loop=loop)
                loop.run_until_complete(self._broker.start())
            except Exception as exc:  # reported to the caller below
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"amqtt:{self.port}", daemon=True)
        self._thread.start()
        started.wait(30)
        if failure:
            self._thread = None
            raise WorldtwinError(f"amqtt broker failed to start on {HOST}:{self.port}: {failure[0]}")
