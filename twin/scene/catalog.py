"""The map-layer catalog: one TOML file per layer in ``layers/``.

Each file names the layer, the twin table it draws, its geometry kind and its style; a layer
styled by category (``category = "kind"``) has one ``[styles.<value>]`` table per value and
falls back to ``[style]``. Adding a layer is adding a file; a wrong file is refused with a
message naming it.

A layer with a ``group`` is drawn on the 3D scene of the Map page (:mod:`twin.scene.city`):
``source`` says where its rows come from (a twin table, an asset class of the register, or
the sensors' latest readings), ``draw`` how they are drawn, ``transport`` whether the data
travels inside the page or is fetched by the browser from a URL, and ``[colour_by.<name>]``
the colourings a user can switch between.
"""

from __future__ import annotations

import tomllib
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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
    #: Close in (the detail tiles), a line or outline is drawn as a band this wide (m).
    band_m: float | None = Field(default=None, gt=0, le=100)
    legend: str = ""

    @property
    def dashed(self) -> bool:
        """Whether the outline is dashed."""
        return self.dash[0] > 0


Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class Colouring(BaseModel):
    """One way of colouring a layer: by the values of a field, or by bins of a number.

    Categories: ``values`` maps each value to a colour, anything else is ``other``. Bins:
    ``bins`` are ascending upper bounds and ``ramp`` has one colour more than ``bins``
    (the last for values above the last bound); ``labels`` name the bins for the legend.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: Name
    title: str
    values: dict[str, RGBA] = {}
    bins: tuple[float, ...] = ()
    ramp: tuple[RGBA, ...] = ()
    labels: tuple[str, ...] = ()
    other: RGBA = (160, 160, 160, 255)

    @model_validator(mode="after")
    def _one_kind(self) -> Colouring:
        if bool(self.values) == bool(self.bins):
            raise ValueError("give either `values` or `bins` (with `ramp`)")
        if self.bins and len(self.ramp) != len(self.bins) + 1:
            raise ValueError("`ramp` needs one colour more than `bins`")
        if self.bins and list(self.bins) != sorted(self.bins):
            raise ValueError("`bins` must be ascending")
        if self.labels and len(self.labels) != len(self.palette):
            raise ValueError("`labels` needs one label per colour")
        return self

    @property
    def palette(self) -> tuple[RGBA, ...]:
        """Every colour, in code order (categories first, then ``other``; or the ramp)."""
        return (*self.values.values(), self.other) if self.values else self.ramp

    @property
    def legend(self) -> list[tuple[str, RGBA]]:
        """Return ``(label, colour)`` pairs in code order."""
        if self.values:
            names = [*self.values, "other / unknown"]
        else:
            bounds = [f"{b:g}" for b in self.bins]
            names = [f"≤ {bounds[0]}", *(f"{a} to {b}" for a, b in pairwise(bounds)),
                     f"> {bounds[-1]}"]  # fmt: skip
        return list(zip(self.labels or names, self.palette, strict=True))


class Layer(BaseModel):
    """One entry of the layer catalog."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name
    title: str
    table: Name
    geometry: Literal["polygon", "line", "point"]
    visible: bool = True
    pickable: bool = False
    category: str | None = None
    style: Style = Style()
    styles: dict[str, Style] = {}
    # --- the 3D scene (layers without a group are drawn by other pages only) ---------------
    group: str | None = None
    order: int = 0
    source: Literal["table", "register", "live"] = "table"
    draw: Literal["extruded", "polygon", "line", "point", "column", "label"] | None = None
    transport: Literal["inline", "url", "tiles"] = "inline"
    colour_by: dict[str, Colouring] = {}
    fields: tuple[Name, ...] = ()
    tooltip: tuple[Name, ...] = ()
    height: Name | None = None
    label: Name | None = None
    radius_m: float = Field(default=4.0, gt=0, le=500)
    width_m: float = Field(default=2.0, gt=0, le=100)
    elevation_scale: float = Field(default=1.0, gt=0, le=1000)
    min_zoom: float | None = None
    #: Tiled lines: drawn in the overview tiles too (else only close in).
    overview: bool = True
    #: Polygons: their outlines travel as tiles of lines and bands (see twin.scene.ground).
    outline: Literal["deck", "tiles"] = "deck"
    legend: str = ""

    @model_validator(mode="after")
    def _scene_needs_draw(self) -> Layer:
        if self.group is not None and self.draw is None:
            raise ValueError("a layer on the scene (with a `group`) needs `draw`")
        if self.draw == "extruded" and self.height is None:
            raise ValueError("an extruded layer needs `height` (the field of the height)")
        if self.draw == "label" and self.label is None:
            raise ValueError("a label layer needs `label` (the field of the text)")
        if self.transport == "tiles" and self.geometry not in ("polygon", "line"):
            raise ValueError("only polygon and line layers travel as tiles")
        if self.transport == "tiles" and self.geometry == "line" and self.colour_by:
            raise ValueError("tiled lines take their colours from `style`/`styles`")
        if self.outline == "tiles" and self.geometry != "polygon":
            raise ValueError('`outline = "tiles"` is for polygon layers')
        banded = self.outline == "tiles" or (self.transport == "tiles" and self.geometry == "line")
        if banded and any(s.band_m is None for s in (self.style, *self.styles.values())):
            raise ValueError("lines as tiles need `band_m` (m) in `style` and every `styles`")
        return self

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
