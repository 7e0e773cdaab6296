"""The MQTT benchmark's client processes: a paced QoS 1 publisher and a no-op subscriber.

Run as ``python -m bench._mqtt_clients publish|sink …`` by :mod:`bench.mqtt`, each in a
process of its own (as a device and a consumer would be), writing what it measured to a file:

- ``publish URL STREAMS START COUNT RATE OUT.npy PREFIX``: publishes messages 0 … COUNT - 1 of
  the simulation of the streams (pickled frame) on topics under PREFIX, paced at RATE msg/s
  (0: as fast as it goes), QoS 1; saves the wall-clock time each message was handed to the
  client, then waits for every PUBACK.
- ``sink URL TOPIC COUNT OUT.npz``: subscribes (QoS 1, acknowledging at once, no work), prints
  ``ready`` once subscribed, and saves the arrival time and phenomenon time of each message
  until COUNT arrived (or 60 s passed without one).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator

import numpy as np
import pandas as pd
from paho.mqtt.client import ConnectFlags, MQTTMessage
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from twin.mqtt.client import Publisher, new_client, parse_url
from twin.sensors.simulator import Simulation

#: Simulated seconds between two messages: 200 µs, a whole number of microseconds, so the
#: message number follows from its phenomenon time exactly.
STEP_RATE = 5000.0
_OUTSTANDING = 5000
_BLOCK = 500


def simulation(streams_file: str, start: str, prefix: str) -> Simulation:
    """Return the benchmark's message sequence (the same in every process)."""
    table = pd.read_pickle(streams_file)  # noqa: S301 - our own file, written by bench.mqtt
    return Simulation(table, rate=STEP_RATE, start=pd.Timestamp(start), seed=7, prefix=prefix)


def publish(url: str, streams_file: str, start: str, count: int, rate: float, out: str,
            prefix: str) -> None:  # fmt: skip
    """Publish ``count`` messages at ``rate`` msg/s (0: unpaced); save the send times."""
    topics, payloads = simulation(streams_file, start, prefix).messages(0, count)
    sent_at = np.zeros(count)

    def items(first: int, last: int) -> Iterator[tuple[str, str]]:
        for k in range(first, last):
            sent_at[k] = time.time()
            yield topics[k], payloads[k]

    with Publisher(parse_url(url), window=200) as pub:
        t0, sent = time.time(), 0
        while sent < count:
            due = count if rate <= 0 else min(count, int((time.time() - t0) * rate) + 1)
            if due <= sent or pub.sent - pub.acked > _OUTSTANDING:
                time.sleep(0.0005)
                continue
            last = min(due, sent + _BLOCK)
            pub.publish(items(sent, last))
            sent = last
        if not pub.wait(120):
            sys.exit("publisher: the broker did not acknowledge every message")
    np.save(out, sent_at)


def sink(url: str, topic: str, count: int, out: str) -> None:
    """Receive ``count`` messages doing nothing with them; save arrival and phenomenon times."""
    arrived: list[float] = []
    stamps: list[bytes] = []
    done, ready = threading.Event(), threading.Event()

    def on_message(_c: object, _u: object, msg: MQTTMessage) -> None:
        arrived.append(time.time())
        stamps.append(msg.payload[10:42])  # {"time": "<32 characters>", …
        if len(arrived) >= count:
            done.set()

    def on_connect(
        client: object, _u: object, _f: ConnectFlags, _rc: ReasonCode, _p: Properties | None
    ) -> None:
        client.subscribe(topic, qos=1)  # type: ignore[attr-defined]

    def on_subscribe(*_args: object) -> None:
        ready.set()

    address = parse_url(url)
    client = new_client(f"bench-sink-{time.time_ns()}", v5=True, address=address)
    client.on_message = on_message
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.connect(address.host, address.port)
    client.loop_start()
    if not ready.wait(30):
        sys.exit("sink: not subscribed within 30 s")
    print("ready", flush=True)
    while not done.wait(60):
        if not arrived or time.time() - arrived[-1] > 60:
            break
    client.disconnect()
    client.loop_stop()
    np.savez(out, arrived=np.asarray(arrived), stamps=np.asarray(stamps, dtype="S32"))


def main(argv: list[str]) -> None:
    """Dispatch ``publish`` and ``sink``."""
    if argv[0] == "publish":
        url, streams_file, start, count, rate, out, prefix = argv[1:8]
        publish(url, streams_file, start, int(count), float(rate), out, prefix)
    elif argv[0] == "sink":
        url, topic, count, out = argv[1:5]
        sink(url, topic, int(count), out)
    else:
        sys.exit(f"unknown command {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
