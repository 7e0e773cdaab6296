"""Cached reads shared by the pages, and the one way a page reports a database that is not ready.

Nothing here computes anything: each function calls into ``twin`` and caches the result.
"""

from __future__ import annotations

import re
import string
from typing import NoReturn

import geopandas as gpd
import pandas as pd
import streamlit as st

from twin import TwinError
from twin.db import database_url
from twin.districts import district_frame, municipality_frame
from twin.scene import road_frame
from twin.sources import SETUP_HINT, dataset_frame

TTL = "5m"  # the twin's base layers change only when someone runs `twin load`

#: Every ASCII punctuation character: CommonMark lets a backslash escape any of them, and
#: escaping all of them also disarms Streamlit's own directives (``:material/…:``,
#: ``:red[…]``, emoji shortcodes, ``$…$`` math) and GFM's bare-URL autolinks.
_MARKDOWN_SPECIAL = re.compile(f"([{re.escape(string.punctuation)}])")


def md_escape(value: object) -> str:
    """Return ``value`` as Markdown that Streamlit shows as the literal text.

    Every string read from the database (names, titles, notes, sources, licences) goes
    through this before it reaches ``st.markdown``, ``st.subheader``, ``st.warning``,
    ``st.caption`` or a cell of ``st.table``, all of which interpret Markdown: an image in a
    name would make the browser fetch it from elsewhere, and ``_`` or ``*`` would mangle it.
    Line breaks become spaces, so a value cannot start a block of its own.
    """
    text = " ".join(str(value).splitlines())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


@st.cache_resource
def url() -> str:
    """Return the twin's database URL (resolved once per server process)."""
    return database_url()


@st.cache_data(ttl=TTL, show_spinner=False)
def districts(db_url: str) -> gpd.GeoDataFrame:
    """Return the local units (see :func:`twin.districts.district_frame`)."""
    return district_frame(db_url)


@st.cache_data(ttl=TTL, show_spinner=False)
def municipality(db_url: str) -> gpd.GeoDataFrame:
    """Return the municipality boundary (see :func:`twin.districts.municipality_frame`)."""
    return municipality_frame(db_url)


@st.cache_data(ttl=TTL, show_spinner=False)
def roads(db_url: str) -> gpd.GeoDataFrame:
    """Return the context roads (see :func:`twin.scene.road_frame`)."""
    return road_frame(db_url)


@st.cache_data(ttl=TTL, show_spinner=False)
def datasets(db_url: str) -> pd.DataFrame:
    """Return the loaded datasets (see :func:`twin.sources.dataset_frame`)."""
    return dataset_frame(db_url)


def stop_not_ready(exc: TwinError) -> NoReturn:
    """Say that the database is not ready, what to run, and end the page."""
    st.error(f"**The twin's database is not ready:** {exc}", icon=":material/database:")
    st.info(f"To set it up, {SETUP_HINT}; then reload this page.")
    st.stop()
