"""MQTT clients of the twin: broker URLs, a faster paho client, and a QoS 1 publisher.

paho-mqtt reads an incoming packet byte by byte (one ``recv`` system call for the command
byte, one per length byte, one for the body) and, when nothing of its own is in flight, only
one packet per wake-up of its network loop. At thousands of messages a second that is most of
the cost, so :class:`FastClient` reads the socket in 64 KiB chunks and handles every complete
packet before it waits again, and acknowledges a batch of messages in one write
(:meth:`FastClient.ack_many`). It overrides two methods of paho 2.2 (``_sock_recv`` and
``loop_read``) and queues packets through its ``_packet_queue``; ``constraints.txt`` pins that
version and the tests exercise it.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK, ConnectFlags
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from twin._errors import ConfigError, SetupError
from twin.config import Settings, get_settings

DEFAULT_PORT = 1883
_CHUNK = 65536


@dataclass(frozen=True)
class BrokerAddress:
    """Where a broker listens and how to log in."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        """The address as ``mqtt://host:port`` (no password)."""
        user = f"{self.username}@" if self.username else ""
        return f"mqtt://{user}{self.host}:{self.port}"


def parse_url(url: str) -> BrokerAddress:
    """Read ``mqtt://[user[:password]@]host[:port]`` (``tcp://`` too).

    Raises
    ------
    ConfigError
        When the URL is not of that form (TLS, ``mqtts://``, is not supported).
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in {"mqtt", "tcp"} or not parts.hostname:
        raise ConfigError(
            f"TWIN_MQTT_URL {url!r} is not an MQTT URL; expected mqtt://host:port "
            "(plain TCP; TLS brokers are not supported)"
        )
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise ConfigError(f"TWIN_MQTT_URL {url!r}: the port is not a number") from exc
    return BrokerAddress(
        parts.hostname,
        port,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


def broker_address(settings: Settings | None = None) -> BrokerAddress:
    """Return the broker the twin uses: ``TWIN_MQTT_URL``, else the own mosquitto."""
    settings = settings or get_settings()
    if settings.mqtt_url:
        return parse_url(settings.mqtt_url)
    return BrokerAddress("127.0.0.1", settings.mqtt_port)


class FastClient(mqtt.Client):
    """A paho client that reads the socket in chunks and drains it on every wake-up."""

    _chunk: bytes = b""
    _at: int = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._at >= len(self._chunk):
            data = super()._sock_recv(_CHUNK)  # raises BlockingIOError when nothing is there
            if not data:
                return data  # the connection was closed
            self._chunk, self._at = data, 0
        part = self._chunk[self._at : self._at + bufsize]
        self._at += len(part)
        return part

    def ack_many(self, mids: Iterable[int]) -> None:
        """Acknowledge QoS 1 messages (``manual_ack``) in the order given, in one write.

        Each PUBACK is the 4-byte form (success, no properties) that MQTT 3.1.1 and 5 share.
        """
        packet = b"".join(struct.pack("!BBH", PUBACK, 2, mid) for mid in mids)
        if packet:
            self._packet_queue(PUBACK, packet, 0, 0)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:  # noqa: ARG002 - paho's signature
        """Handle every packet that has arrived (paho's own reads one per call)."""
        while True:
            if self._sock is None:
                self._chunk, self._at = b"", 0
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                self._chunk, self._at = b"", 0
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                return MQTTErrorCode.MQTT_ERR_SUCCESS


def new_client(
    client_id: str = "",
    *,
    v5: bool = False,
    clean: bool = True,
    manual_ack: bool = False,
    address: BrokerAddress | None = None,
) -> FastClient:
    """Return an unconnected :class:`FastClient` (callback API 2) with the address's login."""
    protocol = MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311
    client = FastClient(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=protocol,
        clean_session=None if v5 else clean,
        manual_ack=manual_ack,
    )
    if address is not None and address.username:
        client.username_pw_set(address.username, address.password)
    return client


class Publisher:
    """Publish with QoS 1 and know when the broker has every message (its PUBACK).

    Parameters
    ----------
    address
        The broker.
    client_id
        MQTT client id (empty: the broker picks one).
    window
        Messages in flight at once (paho's cost per acknowledgement grows with it).

    Raises
    ------
    SetupError
        When the broker cannot be reached.
    """

    def __init__(self, address: BrokerAddress, client_id: str = "", window: int = 100) -> None:
        self.address = address
        self.sent = 0
        self._acked = 0
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._client = new_client(client_id, address=address)
        self._client.max_inflight_messages_set(window)
        self._client.max_queued_messages_set(0)
        self._client.on_publish = self._on_publish
        self._client.on_connect = self._on_connect
        try:
            self._client.connect(address.host, address.port, keepalive=30)
        except OSError as exc:
            raise SetupError(
                f"cannot reach the MQTT broker at {address.url} ({exc.strerror or exc}); "
                "start it with `twin mqtt up`, or set TWIN_MQTT_URL"
            ) from exc
        self._client.loop_start()
        if not self._connected.wait(10):
            self.close()
            raise SetupError(f"the MQTT broker at {address.url} did not accept the connection")

    def _on_connect(
        self, _c: mqtt.Client, _u: object, _f: ConnectFlags, rc: ReasonCode, _p: Properties | None
    ) -> None:
        if not rc.is_failure:
            self._connected.set()

    def _on_publish(
        self, _c: mqtt.Client, _u: object, _m: int, _rc: ReasonCode, _p: Properties | None
    ) -> None:
        with self._lock:
            self._acked += 1

    @property
    def acked(self) -> int:
        """Messages the broker has acknowledged."""
        with self._lock:
            return self._acked

    def publish(self, messages: Iterable[tuple[str, bytes | str]]) -> int:
        """Queue (topic, payload) messages with QoS 1; return how many."""
        count = 0
        publish = self._client.publish
        for topic, payload in messages:
            publish(topic, payload, qos=1)
            count += 1
        self.sent += count
        return count

    def wait(self, timeout: float = 60.0) -> bool:
        """Wait until the broker has acknowledged everything sent; False on timeout."""
        deadline = time.monotonic() + timeout
        while self.acked < self.sent:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
