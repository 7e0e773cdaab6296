"""Streamlit entry of the Maribor digital twin: navigation over the thin pages in ``views/``.

Run it with ``twin serve app`` (or ``make run``); every page reads the twin's database.
The page icon is an emoji on purpose: Streamlit turns an emoji into an inline SVG favicon,
whereas a ``:material/…:`` page icon (or a page's icon, when none is set here) makes the
browser fetch the favicon from Google's servers, and the app must stay offline.
"""

import streamlit as st

st.set_page_config(page_title="Maribor digital twin", page_icon="🗺️", layout="wide")
# Streamlit's loading placeholders shimmer while the page's elements load. Each shimmer frame
# is a composited frame, which a browser without a GPU (and headless chromium) renders and
# reads back in software: measured, they kept the GPU process busy through the page's first
# seconds, the very time the map's WebGL work waits for it. The placeholders stay, still.
st.html(
    "<style>[data-testid^='stSkeleton'],[data-testid='stAppSkeleton'] *"
    "{animation:none !important}</style>"
)

pages = [
    st.Page("views/overview.py", title="Map", icon=":material/map:", default=True),
    st.Page("views/register.py", title="Register", icon=":material/inventory_2:"),
    st.Page("views/sensors.py", title="Sensors", icon=":material/sensors:"),
    st.Page("views/coverage.py", title="Coverage", icon=":material/cell_tower:"),
    st.Page("views/kpi.py", title="KPIs", icon=":material/monitoring:"),
    st.Page("views/sources.py", title="Data & sources", icon=":material/dataset:"),
]
st.navigation(pages, position="top").run()
