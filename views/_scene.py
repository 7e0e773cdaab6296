"""The Map page's cached scene and the session state of its choices.

The scene is read once per register version (and "as of" moment) and kept in the server
process (``st.cache_resource``: the frames are large and must not be copied per run); the
files the browser fetches are written by :func:`twin.scene.city.build_scene`.
"""

from __future__ import annotations

import time
from collections.abc import Container
from datetime import datetime
from typing import Any

import geopandas as gpd
import streamlit as st

from twin.coverage.gaps import gaps
from twin.kpi import Result, compute
from twin.scene.city import Scene, build_scene, with_live
from twin.scene.layerdata import register_version

#: Session keys of the page.
PICKED, VIEW, MAP_N = "scene-picked", "scene-view", "scene-map-n"


@st.cache_resource(max_entries=4, show_spinner="Preparing the city's layers …")
def scene(db_url: str, version: int, as_of: datetime | None) -> Scene:
    """Return the prepared scene of the register at ``version`` (or as of a moment)."""
    return build_scene(db_url, as_of=as_of, version=version)


#: Seconds the live layers (the sensors' latest readings) are kept before being read again.
LIVE_TTL_S = 15


def live_scene(db_url: str, version: int, as_of: datetime | None) -> Scene:
    """Return the scene with its live layers at most :data:`LIVE_TTL_S` seconds old."""
    return _live(db_url, version, as_of, int(time.time() // LIVE_TTL_S))


@st.cache_resource(max_entries=2, show_spinner=False)
def _live(db_url: str, version: int, as_of: datetime | None, tick: int) -> Scene:  # noqa: ARG001 - the tick is part of the cache key
    return with_live(scene(db_url, version, as_of), db_url)


@st.cache_data(max_entries=2, ttl="10m", show_spinner="Computing the KPIs …")
def kpi_results(db_url: str, version: int) -> list[Result]:  # noqa: ARG001 - part of the key
    """Return every KPI for the city and its districts, computed once per register version.

    The real-time KPIs (sensors reporting) may be up to the ``ttl`` old on the map.
    """
    return compute(db_url)


@st.cache_data(max_entries=6, ttl="10m", show_spinner="Measuring the coverage …")
def coverage_gaps(db_url: str, tech: str, version: int) -> gpd.GeoDataFrame:  # noqa: ARG001 - part of the key
    """Return the H3 cells with people ``tech`` does not reach, once per register version."""
    return gaps(tech, db_url)


@st.cache_data(ttl="2s", show_spinner=False)
def version(db_url: str) -> int:
    """Return the register's version (read at most every 2 s)."""
    return register_version(db_url)


def map_key() -> str:
    """Return the key of the map widget (a new key drops the widget's selection)."""
    return f"scene-map-{st.session_state.get(MAP_N, 0)}"


def _objects() -> dict[str, list[dict[str, Any]]]:
    """Return the objects the map's widget holds as selected, by layer id."""
    state: Any = st.session_state.get(map_key())
    return (state or {}).get("selection", {}).get("objects", {}) if state else {}  # type: ignore[no-any-return]


def _selected(layers: Container[str]) -> tuple[str, str] | None:
    """Return the object a click on the map selected in one of ``layers``, if any."""
    for layer_id, picked in _objects().items():
        if not picked or layer_id not in layers:
            continue
        first = picked[0]
        object_id = first.get("id") or (first.get("properties") or {}).get("id")
        if object_id is not None:
            return str(layer_id), str(object_id)
    return None


def has_pick(layers: Container[str]) -> bool:
    """Whether the map holds a click not yet taken (a fragment run then reruns the app)."""
    return _selected(layers) is not None


def fly_to_overlay(overlays: Container[str]) -> bool:
    """Read a click on an overlay (a KPI's district, a coverage cell): fly there.

    The overlays have no panel; a click moves the camera onto the clicked shape and resets
    the widget (an active selection dims the rest of the map). Returns whether it did.
    """
    for layer_id, picked in _objects().items():
        if not picked or layer_id not in overlays:
            continue
        props = picked[0].get("properties") or {}
        if props.get("fly_lon") is None:
            continue
        st.session_state[VIEW] = (props["fly_lon"], props["fly_lat"], props.get("fly_m") or 0)
        st.session_state[MAP_N] = st.session_state.get(MAP_N, 0) + 1
        return True
    return False


def take_pick(layers: Container[str]) -> tuple[str, str] | None:
    """Read a click on the map since the last run; remember it and reset the widget.

    Only objects of ``layers`` (the scene's catalog layers) open the panel; a click on an
    overlay (a KPI's district, a coverage cell) is read by :func:`fly_to_overlay`. Streamlit dims
    every object but the selected one while a map selection is active; the scene marks the
    picked object itself, so the widget is replaced by a fresh one.
    """
    picked = _selected(layers)
    if picked is not None:
        st.session_state[PICKED] = picked
        st.session_state[MAP_N] = st.session_state.get(MAP_N, 0) + 1
    return picked
