"""Layer data the browser fetches itself: files under the app's ``static/`` directory.

Large layers never travel inside the page (see ``docs/design.md``): the scene writes them as
compact JSON files that Streamlit serves from ``static/`` (``server.enableStaticServing``;
gzip-encoded once and cached by the app's front, :mod:`twin.web.front`) and gives deck.gl their
URL. Files are named by a hash of their content, so a layer is written once per distinct
content (a register edit that does not touch it writes nothing), two app processes never write
different data under one name, and a browser never sees a half-written file (each file or tile
set is written to a temporary name and renamed).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

#: The app's static directory (next to ``app.py``) and the URL Streamlit serves it under.
STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
STATIC_URL = "/app/static"
#: Sub-directory of the scene's files.
SCENE = "scene"
#: Files of the scene not used for this long are removed when new ones are written.
KEEP_SECONDS = 7 * 24 * 3600
_DIGEST_BYTES = 10

Tile = tuple[int, int, int]


def _digest(*parts: bytes) -> str:
    h = hashlib.blake2b(digest_size=_DIGEST_BYTES)
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def _root(directory: Path | None) -> Path:
    root = (directory or STATIC_DIR) / SCENE
    root.mkdir(parents=True, exist_ok=True)
    return root


def publish_file(name: str, payload: bytes, directory: Path | None = None) -> str:
    """Write one layer file (once per content) and return its URL.

    Parameters
    ----------
    name
        Layer id, the start of the file name.
    payload
        The JSON bytes.
    directory
        Static directory; :data:`STATIC_DIR` by default.

    Returns
    -------
    str
        The URL path the app serves the file under, e.g. ``/app/static/scene/roads-….json``.
    """
    root = _root(directory)
    file_name = f"{name}-{_digest(payload)}.json"
    target = root / file_name
    if target.exists():
        target.touch()
    else:
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
        Path(tmp).chmod(0o644)
        Path(tmp).replace(target)
        prune(root)
    return f"{STATIC_URL}/{SCENE}/{file_name}"


def publish_tiles(name: str, tiles: Mapping[Tile, bytes], directory: Path | None = None) -> str:
    """Write a tile set (once per content) and return its URL template.

    Parameters
    ----------
    name
        Layer id, the start of the directory name.
    tiles
        JSON bytes by ``(z, x, y)``; every tile a viewer may ask for must be there (an empty
        tile as ``[]``): a missing one would be a failed request in the browser.
    directory
        Static directory; :data:`STATIC_DIR` by default.

    Returns
    -------
    str
        ``/app/static/scene/<name>-<hash>/{z}/{x}/{y}.json`` for deck.gl's ``TileLayer``.
    """
    root = _root(directory)
    keys = sorted(tiles)
    digest = _digest(repr(keys).encode(), *(tiles[k] for k in keys))
    target = root / f"{name}-{digest}"
    if target.exists():
        target.touch()
    else:
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
        for (z, x, y), payload in tiles.items():
            folder = tmp / str(z) / str(x)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{y}.json").write_bytes(payload)
        tmp.chmod(0o755)
        try:
            tmp.rename(target)
        except OSError:  # another process wrote the same tiles meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
        prune(root)
    return f"{STATIC_URL}/{SCENE}/{target.name}/{{z}}/{{x}}/{{y}}.json"


def prune(root: Path, keep_seconds: float = KEEP_SECONDS) -> None:
    """Remove scene files and tile sets not used (written or touched) for ``keep_seconds``."""
    limit = time.time() - keep_seconds
    for entry in root.iterdir():
        try:
            old = entry.stat().st_mtime < limit
        except FileNotFoundError:
            continue
        if not old:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
