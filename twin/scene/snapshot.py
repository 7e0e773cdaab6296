"""Export the Map page's current view as a PNG, in the browser, from the map's own canvas.

The deck.gl canvas (luma.gl keeps its drawing buffer: ``preserveDrawingBuffer`` is on in
the WebGL context Streamlit's bundle creates) is copied onto a white canvas of the same size
and offered as a download; nothing is rendered again and nothing leaves the browser.
"""

from __future__ import annotations

import json

#: The map's element on the page (Streamlit's pydeck chart).
DECK_SELECTOR = "[data-testid='stDeckGlJsonChart'] canvas"
BUTTON_ID = "twin-scene-png"

_SNIPPET = """
<button id="{button_id}" type="button" title="Download the map as it is drawn now"
  style="width:100%;padding:0.35rem 0.75rem;border-radius:0.5rem;cursor:pointer;
  border:1px solid rgba(49,51,63,0.2);background:white;font:inherit;color:inherit">
  &#x1F5BC;&#xFE0E; PNG of the current view</button>
<script>
(() => {{
  const button = document.getElementById({button_id_js});
  if (!button || button.dataset.ready) return;
  button.dataset.ready = "1";
  button.addEventListener("click", () => {{
    const canvas = document.querySelector({selector_js});
    if (!canvas || !canvas.width || !canvas.height) {{
      button.textContent = "No map drawn yet";
      return;
    }}
    const out = document.createElement("canvas");
    out.width = canvas.width;
    out.height = canvas.height;
    const context = out.getContext("2d");
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, out.width, out.height);
    context.drawImage(canvas, 0, 0);
    const link = document.createElement("a");
    link.download = {file_name_js};
    link.href = out.toDataURL("image/png");
    document.body.appendChild(link);
    link.click();
    link.remove();
  }});
}})();
</script>
"""


def png_button_html(file_name: str = "maribor-view.png") -> str:
    """Return a button (HTML and script) that downloads the map's canvas as a PNG.

    Parameters
    ----------
    file_name
        Name of the downloaded file (written into the script as a JSON string).

    Returns
    -------
    str
        For ``st.html(..., unsafe_allow_javascript=True)``: no value from the data is in it.
    """
    return _SNIPPET.format(
        button_id=BUTTON_ID,
        button_id_js=json.dumps(BUTTON_ID),
        selector_js=json.dumps(DECK_SELECTOR),
        file_name_js=json.dumps(file_name),
    )
