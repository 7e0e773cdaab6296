"""The map-layer catalog: one TOML file per layer in ``layers/``.

Each file names the layer, the twin table it draws, its geometry kind and its style; a layer
styled by category (``category = "kind"``) has one ``[styles.<value>]`` table per value and
falls back to ``[style]``. Adding a layer is adding a file; a wrong file is refused with a
message naming it.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from twin._errors import ConfigError
from twin.config import get_settings

Channel = Annotated[int, Field(ge=0, le=255)]
RGBA = tuple[Channel, Channel, Channel, Channel]


class Style(BaseModel):
    """How features of a layer (or of one category of it) are drawn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fill: RGBA | None = None
    line: RGBA | None = None
    line_width_px: float = Field(default=1.0, gt=0, le=20)
    dash: tuple[float, float] = (0.0, 0.0)
    text: RGBA | None = None
    surround: RGBA | None = None
    legend: str = ""

    @property
    def dashed(self) -> bool:
        """Whether the outline is dashed."""
        return self.dash[0] > 0


class Layer(BaseModel):
    """One entry of the layer catalog."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    table: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    geometry: Literal["polygon", "line", "point"]
    visible: bool = True
    pickable: bool = False
    category: str | None = None
    style: Style = Style()
    styles: dict[str, Style] = {}

    def style_of(self, value: object) -> Style:
        """Return the style of a feature whose category column holds ``value``."""
        return self.styles.get(str(value), self.style)


def read_layer(path: Path) -> Layer:
    """Read and validate one layer file.

    Raises
    ------
    ConfigError
        When the file is not valid TOML or not a valid layer; the message names the file.
    """
    try:
        layer = Layer.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise ConfigError(f"{path}: {where}: {first['msg']}") from exc
    if layer.id != path.stem:
        raise ConfigError(f"{path}: id {layer.id!r} must match the file name {path.stem!r}")
    return layer


@cache
def catalog(directory: Path | None = None) -> dict[str, Layer]:
    """Return every layer of the catalog by id (``TWIN_LAYERS_DIR`` by default).

    Raises
    ------
    ConfigError
        When the directory is missing or a layer file is invalid.
    """
    directory = directory or get_settings().layers_dir
    if not directory.is_dir():
        raise ConfigError(f"{directory}: layer catalog directory not found (TWIN_LAYERS_DIR)")
    return {layer.id: layer for layer in map(read_layer, sorted(directory.glob("*.toml")))}


def layer(layer_id: str) -> Layer:
    """Return one layer of the default catalog.

    Raises
    ------
    ConfigError
        When the catalog has no such layer.
    """
    layers = catalog()
    if layer_id not in layers:
        raise ConfigError(
            f"the layer catalog has no layer {layer_id!r} (add layers/{layer_id}.toml)"
        )
    return layers[layer_id]
