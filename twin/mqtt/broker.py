"""The project's own MQTT broker: a mosquitto daemon under ``.twin/mosquitto/``.

Like the own PostGIS it is created and started by the project (``twin mqtt up``), listens on
127.0.0.1 only (``TWIN_MQTT_PORT``, default 18830) and keeps its state next to the cluster:
``mosquitto.conf`` (written on every start), ``mosquitto.pid``, ``mosquitto.log`` and the
persistence file in ``data/``. ``TWIN_MQTT_URL`` points the twin at another broker instead;
then ``twin mqtt up`` only checks that it answers.

The configuration: ``persistence true`` (sessions and queued messages survive a clean restart;
a crash loses at most the last ``autosave_interval`` seconds of queued messages),
``set_tcp_nodelay true``, no limit on the messages queued for a disconnected persistent
session (``max_queued_messages 0``: nothing is dropped while the ingest worker is away; such
a session expires after 7 days unless it reconnects), ``max_inflight_messages 1000``, and
``allow_anonymous true``: acceptable because the listener is bound to the loopback interface,
so only processes on this machine can connect. When run as root, mosquitto drops to the
``mosquitto`` system user, which then owns the broker's directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from twin._errors import SetupError, tool_message
from twin.config import Settings, get_settings
from twin.mqtt.client import BrokerAddress, broker_address

SERVER_USER = "mosquitto"
#: Seconds to wait for the broker to accept connections, or to exit.
START_TIMEOUT = 10.0
STOP_TIMEOUT = 15.0

_CONFIG = """\
# Written by `twin mqtt up` on every start; edits are overwritten.
# The twin's own broker: loopback only, so anonymous clients are local processes.
listener {port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {data}/
autosave_interval 30
persistent_client_expiration 7d
set_tcp_nodelay true
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 1000
pid_file {pid}
log_dest file {log}
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
user {user}
"""


@dataclass(frozen=True)
class BrokerStatus:
    """What ``twin mqtt status`` reports."""

    url: str
    own_broker: bool
    running: bool
    pid: int | None = None
    config: str | None = None
    log: str | None = None


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Broker:
    """The own mosquitto in ``<cluster dir>/mosquitto``.

    Parameters
    ----------
    settings
        Where the cluster directory is and the broker's port.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.root = self.settings.cluster_dir.resolve() / "mosquitto"
        self.config_file = self.root / "mosquitto.conf"
        self.pid_file = self.root / "mosquitto.pid"
        self.log_file = self.root / "mosquitto.log"
        self.data_dir = self.root / "data"
        self.port = self.settings.mqtt_port

    @property
    def address(self) -> BrokerAddress:
        """Where the own broker listens."""
        return BrokerAddress("127.0.0.1", self.port)

    # -- installation -----------------------------------------------------------------
    @staticmethod
    def binary() -> str | None:
        """Return the mosquitto executable, or None when it is not installed."""
        found = shutil.which("mosquitto")
        if found:
            return found
        return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").is_file() else None

    def ensure_installed(self) -> str:
        """Return the mosquitto executable; install Debian's package when missing (as root).

        Raises
        ------
        SetupError
            When mosquitto is missing and cannot be installed here.
        """
        found = self.binary()
        if found:
            return found
        if not _running_as_root() or shutil.which("apt-get") is None:
            raise SetupError(
                "mosquitto is not installed; run `sudo apt-get install -y mosquitto` "
                "(or set TWIN_MQTT_URL to an existing broker)"
            )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "mosquitto"]):
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SetupError(
                    f"`{' '.join(cmd)}` failed: {tool_message(done.stderr)}; "
                    "install mosquitto by hand or set TWIN_MQTT_URL"
                )
        found = self.binary()
        if found is None:
            raise SetupError("apt-get installed mosquitto, but no mosquitto executable is found")
        return found

    # -- state ------------------------------------------------------------------------
    def pid(self) -> int | None:
        """Return the pid of the running broker (None when it does not run)."""
        try:
            pid = int(self.pid_file.read_text(encoding="utf-8").strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        if b"mosquitto" not in cmdline or str(self.config_file).encode() not in cmdline:
            return None  # a stale pid file; the number now belongs to another process
        return pid

    def running(self) -> bool:
        """Whether the own broker's process runs."""
        return self.pid() is not None

    def status(self) -> BrokerStatus:
        """Return where the broker is and whether it runs (or answers, for an external one)."""
        if self.settings.mqtt_url:
            address = broker_address(self.settings)
            return BrokerStatus(
                address.url, own_broker=False, running=_answers(address.host, address.port)
            )
        pid = self.pid()
        return BrokerStatus(
            self.address.url,
            own_broker=True,
            running=pid is not None and _answers("127.0.0.1", self.port),
            pid=pid,
            config=str(self.config_file),
            log=str(self.log_file),
        )

    # -- lifecycle ----------------------------------------------------------------------
    def _write_config(self) -> None:
        self.root.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = pwd.getpwuid(os.geteuid()).pw_name
        if _running_as_root():
            try:
                server = pwd.getpwnam(SERVER_USER)
            except KeyError:
                user = "root"  # no mosquitto user: it keeps running as root
            else:
                user = SERVER_USER
                for path in (self.root, self.data_dir):
                    os.chown(path, server.pw_uid, server.pw_gid)
                self.root.parent.chmod(self.root.parent.stat().st_mode | 0o005)
        self.config_file.write_text(
            _CONFIG.format(
                port=self.port,
                data=self.data_dir,
                pid=self.pid_file,
                log=self.log_file,
                user=user,
            ),
            encoding="utf-8",
        )

    def up(self) -> str:
        """Start the broker if it does not run (waits until it accepts connections).

        Idempotent. With ``TWIN_MQTT_URL`` set, only checks that that broker answers.

        Returns
        -------
        str
            The broker's URL.

        Raises
        ------
        SetupError
            When mosquitto is missing, the port is taken, or the broker does not start.
        """
        if self.settings.mqtt_url:
            address = broker_address(self.settings)
            if not _answers(address.host, address.port, timeout=5.0):
                raise SetupError(
                    f"the MQTT broker at {address.url} (TWIN_MQTT_URL) does not answer; "
                    "start it, or unset TWIN_MQTT_URL to use the twin's own mosquitto"
                )
            return address.url
        if self.running():
            if _answers("127.0.0.1", self.port, timeout=START_TIMEOUT):
                return self.address.url
            raise SetupError(
                f"mosquitto runs (pid {self.pid()}) but does not answer on port {self.port}; "
                "run `twin mqtt down` and `twin mqtt up` again"
            )
        binary = self.ensure_installed()
        if not _port_free(self.port):
            raise SetupError(
                f"port {self.port} on 127.0.0.1 is in use by another program; set "
                "TWIN_MQTT_PORT to a free port (or TWIN_MQTT_URL to use the broker there)"
            )
        self.pid_file.unlink(missing_ok=True)
        self._write_config()
        done = subprocess.run(
            [binary, "-c", str(self.config_file), "-d"],
            capture_output=True,
            text=True,
            check=False,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.running() and _answers("127.0.0.1", self.port, timeout=0.5):
                return self.address.url
            time.sleep(0.05)
        reason = tool_message(done.stderr) if done.stderr.strip() else self._log_tail()
        raise SetupError(
            f"mosquitto did not start on port {self.port}: {reason} (log: {self.log_file})"
        )

    def down(self) -> bool:
        """Stop the own broker (it saves its sessions first); return whether it was running.

        Raises
        ------
        SetupError
            When the broker does not exit in time.
        """
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists():
                self.pid_file.unlink(missing_ok=True)
                return True
            time.sleep(0.05)
        raise SetupError(f"mosquitto (pid {pid}) did not stop within {STOP_TIMEOUT:.0f} s")

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "no log"
        return " | ".join(line.strip() for line in lines[-3:]) or "no log"


def up(settings: Settings | None = None) -> str:
    """Make the broker ready (see :meth:`Broker.up`) and return its URL."""
    return Broker(settings).up()


def down(settings: Settings | None = None) -> bool:
    """Stop the own broker; return whether it was running."""
    return Broker(settings).down()
