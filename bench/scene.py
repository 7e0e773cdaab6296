"""Workload: the 3D twin in headless chromium, ours (layers by URL, tiles) vs the naive path."""

from __future__ import annotations

import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

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
    "Ours: the Map page (`views/overview.py`) served as `twin serve app` serves it "
    "(`streamlit run serve.py`: the app behind the twin's front, `twin/web/front.py`, which "
    "gzip-encodes the page document, Streamlit's bundles and the layer files once each and "
    "serves them from memory), with the layers it opens on (buildings, the ground, "
    "brownfields; street lights, sensors, mobile sites and district names are off at first): "
    "small layers inline, districts as a JSON file, buildings, roads, local streets and the "
    "outlines of the municipality, districts and brownfields as `TileLayer` tiles (two levels; "
    "close in, lines are bands drawn as polygons) under `static/` (prepared once, untimed "
    "warm-up visit). "
    "Baseline (naive): a page that reads the same buildings with `list_assets` and passes a "
    "DataFrame of rings and heights inline to `st.pydeck_chart` "
    "(an extruded `PolygonLayer`, same camera), served by plain `streamlit run`. A second row "
    "puts the same naive page behind the same front (`st.App` with the front's middleware), "
    "so the part of the difference that is the front alone can be read off. The servers run "
    "side by side and the visits alternate (ours, naive, naive behind the front), after one "
    "untimed visit of each. Timed from `page.goto` to the first screenshot of the "
    "map with more than 10 % clearly coloured pixels in its middle (buildings: the ground, "
    "streets and lamps stay under it) and to the complete frame (three equal screenshots "
    "1.5 s apart after that). Bytes: every HTTP response body as sent (CDP "
    "`encodedDataLength`, gzip where served so) plus every WebSocket frame received, split "
    "into the page shell (the document and Streamlit's frontend: JavaScript, CSS, fonts, "
    "which plain Streamlit 1.67 sends uncompressed and the front gzip-encodes, and the "
    "deck.gl chunk any map loads) and the "
    "map data (layer files and tiles under `/app/static/`, and the WebSocket, which carries "
    "the deck spec with its inline layers). The shell is also measured on its own: a page "
    "with one line of text and no map, on plain Streamlit and behind the front. Memory: the "
    "page's JS "
    "heap (CDP `JSHeapUsedSize`) at the complete frame. Floor: the buildings' raw "
    "coordinates as float32 (`x, y` per vertex of the open rings). Scale 10 (the city tiled "
    "ten times; `TWIN_BENCH_SCENE_LARGE=0` leaves it out): ours only, the naive spec would "
    "be ten times the scale-1 one, past Streamlit's message limit."
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


SHELL_PAGE = """
import streamlit as st

st.set_page_config(page_title="shell", layout="wide")
st.subheader("A page without a map")
"""
#: A page served behind the twin's front, as serve.py serves app.py (@SCRIPT@: the page).
FRONT_LAUNCHER = """
import streamlit as st

from twin.web.front import middleware

app = st.App("@SCRIPT@", middleware=middleware())
"""
#: URL path prefix of the app's own static files (the scene's layer files and tiles).
DATA_PREFIX = "/app/static/"


@dataclass
class Visit:
    """What one page visit measured.

    Bytes as sent (gzip where served so): ``bytes_shell`` the page document and Streamlit's
    frontend (its JavaScript, CSS and fonts, including the deck.gl chunk a map loads),
    ``bytes_files`` the layer files and tiles under ``/app/static/``, ``bytes_ws`` the
    WebSocket frames received (the page's elements, inline layer data among them).
    Seconds from navigation: ``ws_done`` when 90 % of the WebSocket bytes had arrived,
    ``files_first`` / ``files_done`` the first layer-file request and the last one finished,
    ``tiles_first`` the first tile (buildings, roads or streets) asked for.
    """

    first: float | None
    complete: float | None
    bytes_shell: int
    bytes_files: int
    bytes_ws: int
    heap_mib: float
    ws_done: float | None = None
    files_first: float | None = None
    files_done: float | None = None
    tiles_first: float | None = None
    tiles: int = 0

    @property
    def bytes_http(self) -> int:
        """Every HTTP response body."""
        return self.bytes_shell + self.bytes_files

    @property
    def bytes_total(self) -> int:
        """Everything the browser received."""
        return self.bytes_http + self.bytes_ws

    @property
    def bytes_map(self) -> int:
        """The map's data: layer files, tiles and WebSocket (the page shell left out)."""
        return self.bytes_files + self.bytes_ws


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


def _visit(browser: Browser, url: str, *, draws: bool = True) -> Visit:  # noqa: PLR0915
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Performance.enable")
    urls: dict[str, str] = {}
    sizes = {"shell": 0, "files": 0}
    ws: list[tuple[float, int]] = []
    marks: dict[str, list[float]] = {"files": [], "done": [], "tiles": []}
    start = time.monotonic()

    def sent(event: dict[str, Any]) -> None:
        path = urlsplit(event["request"]["url"]).path
        urls[event["requestId"]] = path
        if path.startswith(DATA_PREFIX):
            marks["files"].append(time.monotonic() - start)
            if path.count("/") > 5:
                marks["tiles"].append(time.monotonic() - start)

    def finished(event: dict[str, Any]) -> None:
        path = urls.get(event["requestId"], "")
        side = "files" if path.startswith(DATA_PREFIX) else "shell"
        sizes[side] += int(event["encodedDataLength"])
        if side == "files":
            marks["done"].append(time.monotonic() - start)

    def frame(event: dict[str, Any]) -> None:
        data = event["response"]["payloadData"]
        size = len(data) * 3 // 4 if event["response"]["opcode"] == 2 else len(data)
        ws.append((time.monotonic() - start, size))

    cdp.on("Network.requestWillBeSent", sent)
    cdp.on("Network.loadingFinished", finished)
    cdp.on("Network.webSocketFrameReceived", frame)
    page.goto(url, timeout=int(TIMEOUT_S * 1000))
    first = complete = None
    if draws:
        canvas = page.locator("[data-testid='stDeckGlJsonChart'] canvas").first
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
    else:  # the shell: the page's text shown, then a little longer for late requests
        page.get_by_text("A page without a map").wait_for(timeout=int(TIMEOUT_S * 1000))
        page.wait_for_timeout(3000)
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    context.close()
    total_ws = sum(b for _, b in ws)
    ws_done, seen = None, 0
    for at, size in ws:
        seen += size
        if seen >= 0.9 * total_ws:
            ws_done = at
            break
    return Visit(
        first, complete, sizes["shell"], sizes["files"], total_ws,
        metrics["JSHeapUsedSize"] / 2**20, ws_done,
        min(marks["files"], default=None), max(marks["done"], default=None),
        min(marks["tiles"], default=None), len(marks["tiles"]),
    )  # fmt: skip


def _floor_bytes(url: str) -> int:
    rings = shapely.get_exterior_ring(list_assets("building", url=url).geometry.to_numpy())
    vertices = shapely.get_num_coordinates(rings) - 1  # open rings
    return int(vertices.sum()) * 2 * 4


def _seconds(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "—"


def _behind_front(page: Path) -> Path:
    """Write a launcher that serves ``page`` behind the twin's front; return its path."""
    launcher = page.with_name(f"{page.stem}_front.py")
    launcher.write_text(FRONT_LAUNCHER.replace("@SCRIPT@", page.name), encoding="utf-8")
    return launcher


def _describe(side: str, vs: list[Visit]) -> str:
    """Summarise one side's visits: medians of times, bytes and memory."""
    firsts = [v.first for v in vs if v.first is not None]
    done = [v.complete for v in vs if v.complete is not None]
    v = vs[-1]
    drawn = (f"first buildings {statistics.median(firsts):.1f} s (runs "
             + ", ".join(_seconds(x.first) for x in vs) + ")"
             if firsts else f"no buildings in {TIMEOUT_S:.0f} s")  # fmt: skip
    complete = f"{statistics.median(done):.1f} s" if done else "not reached"
    text = (
        f"{side}: {drawn}, complete frame {complete}; {v.bytes_total / 1e6:.2f} MB to the "
        f"browser = page shell {v.bytes_shell / 1e6:.2f} MB (Streamlit's frontend and its "
        f"deck.gl chunk) + map data {v.bytes_map / 1e6:.2f} MB (layer "
        f"files and tiles {v.bytes_files / 1e6:.2f} MB, WebSocket {v.bytes_ws / 1e6:.2f} MB); "
        f"JS heap {statistics.median(x.heap_mib for x in vs):.0f} MiB; 90 % of the WebSocket "
        f"bytes in by {_seconds(v.ws_done)}"
    )
    if v.files_first is not None:
        text += f", layer files asked from {_seconds(v.files_first)}"
    if v.tiles:
        text += (f", {v.tiles} tiles (buildings, roads, streets, outlines), the first asked at "
                 f"{_seconds(v.tiles_first)}")  # fmt: skip
    if v.files_done is not None:
        text += f", the last file in at {_seconds(v.files_done)}"
    return text + " (last run)"


def _row(
    label: str,
    visits: list[Visit],
    floor: int,
    baseline: list[Visit] | None,
    shells: dict[str, Visit],
    load_avg: float,
    baseline_name: str = "naive DataFrame through st.pydeck_chart",
) -> Result:
    def timing(vs: list[Visit]) -> Timing:
        return Timing(tuple(v.first if v.first is not None else TIMEOUT_S for v in vs))

    notes = f"load average {load_avg:.1f} at the start; " + _describe("ours", visits)
    if baseline:
        notes += "; " + _describe("naive", baseline)
        ours, naive = visits[-1], baseline[-1]
        notes += (f"; bytes naive/ours: {naive.bytes_total / ours.bytes_total:.1f}x in all, "
                  f"{naive.bytes_map / ours.bytes_map:.1f}x map data only")  # fmt: skip
    for server, shell in shells.items():
        notes += (f"; a page without a map {server}: {shell.bytes_total / 1e6:.2f} MB "
                  f"(shell {shell.bytes_shell / 1e6:.2f} MB, WebSocket "
                  f"{shell.bytes_ws / 1e3:.0f} kB)")  # fmt: skip
    notes += f"; floor: raw float32 coordinates {floor / 1e6:.2f} MB"
    return Result(
        workload=f"{NAME}: {label}, time to first buildings",
        ours=timing(visits),
        baseline=baseline_name if baseline else "—",
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
        shell_page = Path(tmp) / "shell.py"
        shell_page.write_text(SHELL_PAGE, encoding="utf-8")
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        scales = (1,) if os.environ.get("TWIN_BENCH_SCENE_LARGE") == "0" else (1, LARGE_SCALE)
        for scale in scales:
            ctx.log(f"{NAME}: synthesising the city at scale {scale} (untimed)")
            synthesize(seed=1, scale=scale, url=url, raster_dir=Path(tmp) / "rasters")
            floor = _floor_bytes(url)
            page = f"?camera={quote(CAMERA)}"
            shells = {}
            for server, script in (("on plain Streamlit", shell_page),
                                   ("behind the front", _behind_front(shell_page))):  # fmt: skip
                with _served(script, url, Path(tmp) / f"{script.stem}.log") as other:
                    _visit(browser, other, draws=False)
                    shells[server] = _visit(browser, other, draws=False)
            with ExitStack() as servers:
                app = servers.enter_context(_served(ROOT / "serve.py", url, Path(tmp) / "ours.log"))
                for _ in range(max(ctx.warmup, 1)):  # prepares the layer files
                    _visit(browser, app + page)
                ours: list[Visit] = []
                baselines: dict[str, list[Visit]] = {}
                others: dict[str, str] = {}
                if scale == 1:  # at scale 10 the naive spec is ~340 MB: not tried
                    for side, script in (("naive", naive), ("naive_front", _behind_front(naive))):
                        log = Path(tmp) / f"{side}.log"
                        others[side] = servers.enter_context(_served(script, url, log))
                        baselines[side] = []
                        for _ in range(max(ctx.warmup, 1)):
                            _visit(browser, others[side])
                load_avg = os.getloadavg()[0]
                ctx.log(f"{NAME}: scale {scale}, load average {load_avg:.1f}")
                for _ in range(ctx.repeat if scale == 1 else 1):  # the sides interleaved
                    ours.append(_visit(browser, app + page))
                    for side, other in others.items():
                        baselines[side].append(_visit(browser, other))
            ctx.log(f"{NAME}: scale {scale} ours {ours}")
            for side, visits in baselines.items():
                ctx.log(f"{NAME}: scale {scale} {side} {visits}")
            results.append(
                _row(f"scale {scale}", ours, floor, baselines.get("naive"), shells, load_avg)
            )
            if "naive_front" in baselines:
                results.append(_row(
                    f"scale {scale}, naive also behind the front", ours, floor,
                    baselines["naive_front"], shells, load_avg,
                    baseline_name="naive DataFrame through st.pydeck_chart, behind the same front",
                ))  # fmt: skip
        browser.close()
    return results
