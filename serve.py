"""The app as it is served: ``app.py`` behind the twin's web front (:mod:`twin.web.front`).

``twin serve app`` (and ``make run``) run ``streamlit run serve.py``: Streamlit finds the
``app`` below and serves ``app.py`` with uvicorn, the front (the page document, Streamlit's
bundles and the scene's layer files gzip-encoded, each compressed once) before its own
middleware. Pages, WebSocket and health endpoint are Streamlit's, unchanged.
"""

import streamlit as st

from twin.web.front import middleware

app = st.App("app.py", middleware=middleware())
