"""The MQTT ingest worker behind ``twin ingest mqtt``: nothing lost, nothing stored twice.

Three threads:

- paho's network thread receives messages (QoS 1, a persistent session under a fixed client
  id, acknowledgements sent by hand) and hands them over;
- the *buffer writer* appends what arrived to the durable SQLite buffer
  (:mod:`twin.mqtt.buffer`) in one synced commit, then acknowledges those messages, in the
  order received, so the broker forgets a message only once it is on disk here;
- the main thread *flushes* the buffer to PostGIS through the one ingest path
  (:func:`twin.sensors.observations.ingest`): a batch (up to ``--batch`` messages, or what
  arrived within ``--max-wait`` seconds) per transaction, and removes the batch from the buffer
  only after the commit.

When the database is down the writer keeps receiving into the buffer and the flusher retries
with backoff (0.5 s doubling up to 5 s), then catches up in full batches. When the worker is
killed, the buffer keeps what it stored and the broker redelivers what was not acknowledged.
A repeated message is absorbed by the observations' key (datastream, phenomenon time); a
repeated malformed message is recorded in the dead letters again. SIGTERM and SIGINT stop it
cleanly: the buffer is flushed (if the database is reachable) and the session stays, so the
broker keeps queuing for the next start.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import NamedTuple

import paho.mqtt.client as mqtt
import pandas as pd
import psycopg
from paho.mqtt.client import ConnectFlags, DisconnectFlags
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from twin._errors import DatabaseError, SetupError, exception_reason
from twin.config import Settings, get_settings
from twin.db.engine import database_url, describe_url
from twin.mqtt.buffer import Buffer, Buffered, BufferLock
from twin.mqtt.client import broker_address, new_client
from twin.mqtt.messages import readings
from twin.sensors.observations import IngestReport, dead_letter, ingest

SOURCE = "mqtt"
#: Seconds a persistent session outlives its worker (the broker queues for it meanwhile).
SESSION_EXPIRY_S = 7 * 24 * 3600
#: Messages the broker may send before the first acknowledgement comes back.
RECEIVE_MAXIMUM = 1000
PROGRESS_EVERY_S = 5.0
_BACKOFF_FIRST, _BACKOFF_MAX = 0.5, 5.0
_Props = Properties | None
_UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError, DatabaseError)


class _Arrived(NamedTuple):
    received: float
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int


def default_buffer(settings: Settings, client_id: str) -> Path:
    """Return the buffer file of a client id: ``<cluster dir>/ingest/mqtt-<id>.sqlite``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in client_id)
    return settings.cluster_dir.resolve() / "ingest" / f"mqtt-{safe}.sqlite"


def _stderr(line: str) -> None:
    sys.stderr.write(f"mqtt: {line}\n")
    sys.stderr.flush()


class Worker:
    """Receive readings over MQTT and store them in PostGIS.

    Parameters
    ----------
    settings
        Broker, topic prefix, client id and cluster directory; the process settings by default.
    url
        Database URL; the twin's database by default.
    client_id
        MQTT client id (the persistent session); ``TWIN_MQTT_CLIENT_ID`` by default.
    buffer_path
        The durable buffer; one per client id under the cluster directory by default.
    batch
        Most messages stored in one transaction.
    max_wait
        Seconds a message may wait in the buffer for its batch to fill.
    until_idle
        Exit once no message arrived for this many seconds and everything is stored.
    log
        Where progress lines go (stderr by default).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        url: str | None = None,
        client_id: str | None = None,
        buffer_path: Path | None = None,
        batch: int = 5000,
        max_wait: float = 0.1,
        until_idle: float | None = None,
        log: Callable[[str], None] = _stderr,
    ) -> None:
        self.settings = settings or get_settings()
        self.url = url or database_url(self.settings)
        self.client_id = client_id or self.settings.mqtt_client_id
        self.buffer_path = buffer_path or default_buffer(self.settings, self.client_id)
        self.prefix = self.settings.mqtt_topic_prefix.rstrip("/")
        self.batch = max(1, batch)
        self.max_wait = max(0.0, max_wait)
        self.until_idle = until_idle
        self.log = log
        self.report = IngestReport()
        self.received = 0
        self._inbox: deque[_Arrived] = deque()
        self._arrived = threading.Event()
        self._buffered = threading.Event()
        self._stop = threading.Event()
        self._stop_writer = threading.Event()
        self._failure: BaseException | None = None
        self._generation = 0
        self._session_present = False
        self._subscribed_at: float | None = None
        self._last_message = time.monotonic()
        self._client = new_client(self.client_id, v5=True, manual_ack=True,
                                  address=broker_address(self.settings))  # fmt: skip
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(1, 5)

    # -- paho's thread ------------------------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, _u: object, flags: ConnectFlags, rc: ReasonCode, _p: _Props
    ) -> None:
        if rc.is_failure:
            self.log(f"the broker refused the connection: {rc}")
            return
        self._generation += 1
        self._session_present = bool(flags.session_present)
        client.subscribe(f"{self.prefix}/#", qos=1)

    def _on_subscribe(
        self, _c: mqtt.Client, _u: object, _m: int, codes: list[ReasonCode], _p: _Props
    ) -> None:
        if any(code.is_failure for code in codes):
            self.log(f"the broker refused the subscription to {self.prefix}/#: {codes[0]}")
            return
        if self._subscribed_at is None:
            self._subscribed_at = time.monotonic()
        present = "resumed" if self._session_present else "new"
        self.log(f"subscribed to {self.prefix}/# on {broker_address(self.settings).url} as "
                 f"{self.client_id} ({present} session), QoS 1")  # fmt: skip

    def _on_disconnect(
        self, _c: mqtt.Client, _u: object, _f: DisconnectFlags, rc: ReasonCode, _p: _Props
    ) -> None:
        if not self._stop.is_set():
            self.log(f"lost the broker ({rc}); reconnecting")

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            name = msg.topic
        except UnicodeDecodeError:
            name = msg._topic.decode("utf-8", errors="replace")
        self._inbox.append(
            _Arrived(time.time(), name, bytes(msg.payload), msg.mid, msg.qos, self._generation)
        )
        self._arrived.set()

    # -- buffer writer thread -----------------------------------------------------------
    def _drain(self) -> list[_Arrived]:
        items = []
        inbox = self._inbox
        while inbox:
            items.append(inbox.popleft())
        return items

    def _write(self, buffer: Buffer, *, acknowledge: bool) -> int:
        items = self._drain()
        if not items:
            return 0
        buffer.append([(i.received, i.topic, i.payload) for i in items])
        if acknowledge:  # in the order received, as MQTT wants
            current = self._generation
            self._client.ack_many(i.mid for i in items if i.qos == 1 and i.generation == current)
        self.received += len(items)
        self._last_message = time.monotonic()
        self._buffered.set()
        return len(items)

    def _writer(self) -> None:
        buffer = Buffer(self.buffer_path)
        try:
            while True:
                self._arrived.wait(0.05)
                self._arrived.clear()
                if not self._write(buffer, acknowledge=True) and self._stop_writer.is_set():
                    return
        except BaseException as exc:  # noqa: BLE001 - a full disk, a broken file: stop, unacknowledged
            self._failure = exc
            self._stop.set()
        finally:
            buffer.close()

    # -- flusher (main thread) ----------------------------------------------------------
    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, connect_timeout=5, application_name="twin ingest mqtt")

    def _ingest(self, conn: psycopg.Connection, rows: list[Buffered]) -> IngestReport:
        parsed = readings(self.prefix, [r.topic for r in rows], [r.payload for r in rows])
        rejected = parsed.rejected
        with conn.transaction():
            report = ingest(conn, parsed.readings, SOURCE)
            if not rejected.empty:
                report.dead_letters += dead_letter(
                    conn, SOURCE, rejected["payload"], rejected["reason"], rejected["topic"]
                )
        report.received = len(rows)
        for reason, count in rejected["reason"].value_counts().items():
            report.reasons[str(reason)] = report.reasons.get(str(reason), 0) + int(count)
        return report

    def _store(self, conn: psycopg.Connection, rows: list[Buffered]) -> IngestReport:
        """Store rows in one transaction; split a batch that fails, to set the culprit aside.

        A message that cannot be stored on its own (the database refuses it, or the ingest
        path fails on it) goes to the dead letters with the error, so one bad message never
        blocks the ones behind it.
        """
        try:
            return self._ingest(conn, rows)
        except _UNAVAILABLE:
            raise
        except Exception as exc:  # noqa: BLE001 - set the message aside, keep running
            if len(rows) > 1:
                half = len(rows) // 2
                report = self._store(conn, rows[:half])
                report.add(self._store(conn, rows[half:]))
                return report
            reason = f"cannot be stored: {exception_reason(exc)}"
            self.log(f"a message on {rows[0].topic} {reason}")
            text = rows[0].payload.decode("utf-8", errors="replace").replace("\x00", "\\u0000")
            with conn.transaction():
                count = dead_letter(conn, SOURCE, pd.Series([text]), pd.Series([reason]),
                                    pd.Series([rows[0].topic.replace("\x00", "")]))  # fmt: skip
            return IngestReport(received=1, dead_letters=count, reasons={reason: 1})

    def _idle(self) -> bool:
        if self.until_idle is None or self._subscribed_at is None or self._inbox:
            return False
        quiet = time.monotonic() - max(self._last_message, self._subscribed_at)
        return quiet >= self.until_idle

    def _flush(self, buffer: Buffer, *, final: bool = False) -> None:  # noqa: PLR0912 - one loop, its states
        conn: psycopg.Connection | None = None
        backoff, retry_at, down_since = 0.0, 0.0, None
        progress = _Progress(self)
        try:
            while True:
                stopping = final or self._stop.is_set()
                progress.tick(buffer)
                if not stopping and time.monotonic() < retry_at:
                    self._stop.wait(min(0.2, retry_at - time.monotonic()))
                    continue
                rows = buffer.head(self.batch)
                if not rows:
                    if stopping:
                        return
                    if self._idle():
                        self._stop.set()
                        continue
                    self._buffered.wait(0.2)
                    self._buffered.clear()
                    continue
                age = time.time() - rows[0].received
                if len(rows) < self.batch and age < self.max_wait and not stopping:
                    self._stop.wait(self.max_wait - age)
                    continue
                try:
                    if conn is None or conn.closed:
                        conn = self._connect()
                    report = self._store(conn, rows)
                except _UNAVAILABLE as exc:
                    if conn is not None:
                        conn.close()
                    conn = None
                    if stopping:  # the last try, in the final flush, says so
                        if final:
                            self.log(f"database unavailable ({exception_reason(exc)}): "
                                     f"{buffer.count():,} message(s) stay in the buffer; the "
                                     "next start stores them")  # fmt: skip
                        return
                    if down_since is None:
                        down_since = time.monotonic()
                        self.log(f"database unavailable ({exception_reason(exc)}); buffering "
                                 f"in {self.buffer_path}")  # fmt: skip
                    backoff = min(_BACKOFF_MAX, backoff * 2 or _BACKOFF_FIRST)
                    retry_at = time.monotonic() + backoff
                    continue
                buffer.remove(rows[-1].id)
                self.report.add(report)
                if down_since is not None:
                    self.log(f"database back after {time.monotonic() - down_since:.1f} s; "
                             "catching up")  # fmt: skip
                    down_since, backoff = None, 0.0
        finally:
            progress.tick(buffer, force=True)
            if conn is not None:
                conn.close()

    # -- lifecycle ------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the worker to finish (as SIGTERM does)."""
        self._stop.set()

    def _signal(self, signum: int, _frame: FrameType | None) -> None:
        self.log(f"{signal.Signals(signum).name}: storing what is buffered, then exiting")
        self._stop.set()

    def run(self) -> IngestReport:
        """Run until stopped (SIGTERM, SIGINT, :meth:`stop`, or ``until_idle``).

        Returns
        -------
        IngestReport
            What this run stored (``received`` counts the messages it received).

        Raises
        ------
        SetupError
            When the broker cannot be reached at the start, or the buffer fails.
        """
        lock = BufferLock(self.buffer_path)
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                handlers[sig] = signal.signal(sig, self._signal)
        buffer = Buffer(self.buffer_path)
        waiting = buffer.count()
        self.log(f"buffer {self.buffer_path} ({waiting:,} message(s) waiting); database "
                 f"{describe_url(self.url)}")  # fmt: skip
        writer = threading.Thread(target=self._writer, name="mqtt-buffer", daemon=True)
        try:
            address = broker_address(self.settings)
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = SESSION_EXPIRY_S
            props.ReceiveMaximum = RECEIVE_MAXIMUM
            try:
                self._client.connect(address.host, address.port, keepalive=30,
                                     clean_start=False, properties=props)  # fmt: skip
            except OSError as exc:
                raise SetupError(
                    f"cannot reach the MQTT broker at {address.url} ({exc.strerror or exc}); "
                    "start it with `twin mqtt up`, or set TWIN_MQTT_URL"
                ) from exc
            writer.start()
            self._client.loop_start()
            self._flush(buffer)
            # Stop: store and acknowledge what arrived, leave (the session stays), keep the rest.
            self._stop_writer.set()
            self._arrived.set()
            writer.join()
            self._client.disconnect()
            self._client.loop_stop()
            if self._failure is None:
                self._write(buffer, acknowledge=False)  # arrived meanwhile: resent anyway
                self._flush(buffer, final=True)
        finally:
            self._stop.set()
            self._stop_writer.set()
            if writer.is_alive():
                writer.join(5)
            buffer.close()
            lock.release()
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        if self._failure is not None:
            raise SetupError(
                f"the MQTT buffer {self.buffer_path} failed: {exception_reason(self._failure)}; "
                "unacknowledged messages stay at the broker"
            ) from self._failure
        self.report.received = self.received
        return self.report


class _Progress:
    """Progress lines on the log every few seconds while something happens."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.at = time.monotonic()
        self.received = worker.received
        self.stored = worker.report.stored

    def tick(self, buffer: Buffer, *, force: bool = False) -> None:
        now = time.monotonic()
        if now - self.at < PROGRESS_EVERY_S and not force:
            return
        w, r = self.worker, self.worker.report
        if w.received == self.received and r.stored == self.stored:
            self.at = now
            return
        seconds = max(now - self.at, 1e-9)
        rate = (w.received - self.received) / seconds
        stored = (r.stored - self.stored) / seconds
        self.worker.log(
            f"{w.received:,} received ({rate:,.0f}/s), {r.stored:,} stored ({stored:,.0f}/s), "
            f"{r.duplicates:,} already stored, {r.dead_letters:,} dead letters, "
            f"{buffer.count():,} buffered"
        )
        self.at, self.received, self.stored = now, w.received, r.stored
