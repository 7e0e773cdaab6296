"""Workload: the 3D twin in headless chromium, ours (layers by URL, tiles) vs the naive path."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import shapely
from PIL import Image
from playwright.sync_api import Browser, sync_playwright

from bench._harness import Context, Result, Timing
from twin._errors import SetupError
from twin.load.maribor import load
from twin.register.store import list_assets
from twin.synth.city import synthesize

NAME = "3D scene"
MEASURES = (
    "Headless Debian chromium (SwiftShader, no GPU, 1400 by 1000 px) opens a Streamlit page served "
    "on 127.0.0.1 against the throwaway database with the synthetic city (seed 1) and the "
    "camera on the centre at street level (`?camera=Centre (street level)`, 3D, pitch 50°). "
    "Ours: the Map page (`views/overview.py`): small layers inline, street lights and streets "
    "as gzip JSON files, buildings as `TileLayer` tiles under `static/` (prepared once, "
    "untimed warm-up visit). Baseline (naive): a page that reads the same buildings with "
    "`list_assets` and passes a DataFrame of rings and heights inline to `st.pydeck_chart` "
    "(an extruded `PolygonLayer`, same camera). Timed from `page.goto` to the first "
    "screenshot of the map with more than 10 % clearly coloured pixels in its middle "
    "(buildings: the ground, streets and lamps stay under it) and to the complete frame "
    "(three equal screenshots 1.5 s apart after that). Bytes: every HTTP response body as "
    "sent (CDP `encodedDataLength`, gzip where served so) plus every WebSocket frame received. "
    "Memory: the page's JS heap (CDP `JSHeapUsedSize`) at the complete frame. Floor: the "
    "buildings' raw coordinates as float32 (`x, y` per vertex of the open rings). Scale 10 "
    "(the city tiled ten times; `TWIN_BENCH_SCENE_LARGE=0` leaves it out): ours only, the "
    "naive spec would be ten times the scale-1 one, past Streamlit's message limit."
)

CAMERA = "Centre (street level)"
LARGE_SCALE = 10
#: Share of clearly coloured pixels in the middle of the map that counts as buildings.
BUILDINGS_SHARE = 0.10
TIMEOUT_S = 240.0
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
        "--disable-background-networking", "--disable-component-update"]  # fmt: skip
ROOT = Path(__file__).resolve().parent.parent

NAIVE_PAGE = (
    """
import numpy as np, pandas as pd, pydeck as pdk, shapely, streamlit as st
from twin.districts import district_frame, municipality_frame
from twin.register.store import list_assets
from twin.scene.city import camera, presets

CAMERA = "@CAMERA@"

buildings = list_assets("building")
rings = [np.asarray(g.exterior.coords)[:-1].round(5).tolist() for g in buildings.geometry]
frame = pd.DataFrame({"polygon": rings, "h": buildings["height_m"].round().astype(int),
                      "id": buildings["id"]})
bounds = presets(district_frame(), municipality_frame())[CAMERA]
st.pydeck_chart(pdk.Deck(
    layers=[pdk.Layer("PolygonLayer", frame, get_polygon="polygon", extruded=True,
                      get_elevation="h", get_fill_color=[235, 200, 150, 255], pickable=True)],
    initial_view_state=camera(bounds, three_d=True, max_zoom=17.5), map_provider=None),
    height=640)"""
).replace("@CAMERA@", CAMERA)


@dataclass
class Visit:
    """What one page visit measured."""

    first: float | None
    complete: float | None
    bytes_http: int
    bytes_ws: int
    heap_mib: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _served(script: Path, url: str, log: Path) -> Iterator[str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.address",
           "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.enableStaticServing", "true",
           "--server.maxMessageSize", "1000"]  # fmt: skip
    env = {**os.environ, "TWIN_DATABASE_URL": url}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    health = f"http://127.0.0.1:{port}/_stcore/health"
                    with urllib.request.urlopen(health, timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise SetupError(f"streamlit did not start: {log}") from None
                    time.sleep(0.3)
            yield f"http://127.0.0.1:{port}/"
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def _coloured(png: bytes) -> float:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    h, w, _ = rgb.shape
    middle = rgb[h // 6 : h * 5 // 6, w // 6 : w * 5 // 6].reshape(-1, 3)
    return float(((middle.max(axis=1) - middle.min(axis=1)) > 45).mean())


def _visit(browser: Browser, url: str) -> Visit:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Performance.enable")
    sizes = {"http": 0, "ws": 0}

    def finished(event: dict[str, Any]) -> None:
        sizes["http"] += int(event["encodedDataLength"])

    def frame(event: dict[str, Any]) -> None:
        data = event["response"]["payloadData"]
        sizes["ws"] += len(data) * 3 // 4 if event["response"]["opcode"] == 2 else len(data)

    cdp.on("Network.loadingFinished", finished)
    cdp.on("Network.webSocketFrameReceived", frame)
    start = time.monotonic()
    page.goto(url, timeout=int(TIMEOUT_S * 1000))
    canvas = page.locator("[data-testid='stDeckGlJsonChart'] canvas").first
    first = complete = None
    try:
        canvas.wait_for(timeout=int(TIMEOUT_S * 1000))
        shots: list[bytes] = []
        while time.monotonic() - start < TIMEOUT_S:
            shot = canvas.screenshot()
            if first is None and _coloured(shot) > BUILDINGS_SHARE:
                first = time.monotonic() - start
            if first is not None:
                shots.append(shot)
                if len(shots) >= 3 and shots[-1] == shots[-2] == shots[-3]:
                    complete = time.monotonic() - start - 3.0
                    break
            page.wait_for_timeout(1500 if first is not None else 250)
    except Exception:  # noqa: BLE001 - a page that never draws is a result, not an error
        first = complete = None
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    context.close()
    return Visit(first, complete, sizes["http"], sizes["ws"], metrics["JSHeapUsedSize"] / 2**20)


def _floor_bytes(url: str) -> int:
    rings = shapely.get_exterior_ring(list_assets("building", url=url).geometry.to_numpy())
    vertices = shapely.get_num_coordinates(rings) - 1  # open rings
    return int(vertices.sum()) * 2 * 4


def _row(label: str, visits: list[Visit], floor: int, baseline: list[Visit] | None) -> Result:
    def timing(vs: list[Visit]) -> Timing:
        return Timing(tuple(v.first if v.first is not None else TIMEOUT_S for v in vs))

    def describe(side: str, vs: list[Visit]) -> str:
        v = vs[-1]
        done = f"{v.complete:.1f} s" if v.complete is not None else "not reached"
        drawn = f"{v.first:.1f} s" if v.first is not None else f"no buildings in {TIMEOUT_S:.0f} s"
        sent = (v.bytes_http + v.bytes_ws) / 1e6
        return (f"{side}: first buildings {drawn}, complete frame {done}, {sent:.2f} MB to "
                f"the browser ({v.bytes_ws / 1e6:.2f} MB over the WebSocket), JS heap "
                f"{v.heap_mib:.0f} MiB")  # fmt: skip

    notes = describe("ours", visits)
    if baseline:
        notes += "; " + describe("naive", baseline)
    notes += f"; floor: raw float32 coordinates {floor / 1e6:.2f} MB"
    return Result(
        workload=f"{NAME}: {label}, time to first buildings",
        ours=timing(visits),
        baseline="naive DataFrame through st.pydeck_chart" if baseline else "—",
        baseline_timing=timing(baseline) if baseline else None,
        notes=notes,
    )


def run(ctx: Context) -> list[Result]:
    """Open the Map page and the naive page in chromium at scale 1 (and ours at scale 10).

    Parameters
    ----------
    ctx
        The throwaway database, the data directory and the repetition counts.

    Returns
    -------
    list[Result]
        One row per scale: time to first buildings, with bytes, complete frame and memory.
    """
    if not CHROMIUM.exists():
        raise SetupError(f"{CHROMIUM} is not installed: run `scripts/setup.sh test`")
    url = ctx.database.url
    ctx.database.reset_twin()
    load(ctx.data_dir, url=url)
    results = []
    with tempfile.TemporaryDirectory(prefix="twin-bench-scene-") as tmp, sync_playwright() as pw:
        naive = Path(tmp) / "naive.py"
        naive.write_text(NAIVE_PAGE, encoding="utf-8")
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        scales = (1,) if os.environ.get("TWIN_BENCH_SCENE_LARGE") == "0" else (1, LARGE_SCALE)
        for scale in scales:
            ctx.log(f"{NAME}: synthesising the city at scale {scale} (untimed)")
            synthesize(seed=1, scale=scale, url=url, raster_dir=Path(tmp) / "rasters")
            floor = _floor_bytes(url)
            page = f"?camera={quote(CAMERA)}"
            with _served(ROOT / "app.py", url, Path(tmp) / "ours.log") as app:
                for _ in range(max(ctx.warmup, 1)):  # prepares the layer files
                    _visit(browser, app + page)
                ours = [_visit(browser, app + page) for _ in range(ctx.repeat if scale == 1 else 1)]
            ctx.log(f"{NAME}: scale {scale} ours {ours[-1]}")
            baseline = None
            if scale == 1:  # at scale 10 the naive spec is ~340 MB: not tried
                with _served(naive, url, Path(tmp) / "naive.log") as other:
                    baseline = [_visit(browser, other) for _ in range(ctx.repeat)]
                ctx.log(f"{NAME}: scale {scale} naive {baseline[-1]}")
            results.append(_row(f"scale {scale}", ours, floor, baseline))
        browser.close()
    return results
