"""The coverage model: its parameters (``model.toml``) and the emitters it derives from sites.

A mobile site becomes one *emitter* per band of the technology asked for: its position, the
band's range scaled by the antenna height, its sector azimuths and beam width, and the
near-field radius. A person (population-grid cell centroid) is covered by an emitter when

* the distance ``d`` to the site is at most the emitter's range, and
* ``d`` is within the near field, or the site is omni (no azimuths, or sectors switched off),
  or the bearing from the site lies within half a beam width of one sector azimuth, and
* (only with ``line_of_sight = true``) no terrain sample of the DEM between the antenna top and
  the receiver rises above the straight ray.

The same emitters feed the PostGIS path (``twin.coverage.report``), the geopandas path
(``twin.coverage.frame``) and the dask path (``twin.coverage.distributed``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pyproj import Transformer

from twin._errors import ConfigError

MODEL_FILE = Path(__file__).resolve().parent / "model.toml"
STORAGE_SRID = 3794
DISPLAY_SRID = 4326
#: Emitter columns, in order.
EMITTER_COLUMNS = ("site_id", "operator", "x", "y", "height_m", "band", "range_m", "near_m",
                   "beam_deg", "azimuths")  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Radio(_Strict):
    """How a band's range, sectors and terrain are applied."""

    reference_height_m: float = Field(gt=0)
    height_exponent: float = Field(ge=0, le=2)
    min_height_factor: float = Field(gt=0)
    max_height_factor: float = Field(gt=0)
    default_height_m: float = Field(gt=0)
    use_sectors: bool
    beam_width_deg: float = Field(gt=0, le=360)
    near_field_m: float = Field(ge=0)
    line_of_sight: bool
    receiver_height_m: float = Field(ge=0)
    los_samples: int = Field(ge=2, le=512)


class Technology(_Strict):
    """A mobile technology the model computes."""

    site_technology: str
    default_band: str


class Band(_Strict):
    """One frequency band: its technology, register label and planning range."""

    technology: str
    label: str
    range_m: float = Field(gt=0)


class Gigabit(_Strict):
    """When a building counts as having gigabit broadband."""

    connections: tuple[str, ...]
    drop_distance_m: float = Field(ge=0)
    node_kinds: tuple[str, ...]
    segment_kinds: tuple[str, ...]


class Gaps(_Strict):
    """The gap map."""

    h3_resolution: int = Field(ge=0, le=15)


class Suggest(_Strict):
    """Candidate places for new sites."""

    candidate_spacing_m: float = Field(gt=0)
    roof_mast_m: float = Field(ge=0)
    default_pole_height_m: float = Field(gt=0)
    default_roof_height_m: float = Field(gt=0)


class Model(_Strict):
    """Every parameter of the coverage model (``twin/coverage/model.toml``)."""

    radio: Radio
    technologies: dict[str, Technology]
    bands: dict[str, Band]
    gigabit: Gigabit
    operator_technologies: dict[str, tuple[str, ...]]
    gaps: Gaps
    suggest: Suggest

    def band(self, code: str, tech: str) -> Band:
        """Return band ``code`` of technology ``tech``.

        Raises
        ------
        ConfigError
            When the model has no such band for ``tech``.
        """
        band = self.bands.get(code)
        if band is None or band.technology != tech:
            known = ", ".join(c for c, b in self.bands.items() if b.technology == tech)
            raise ConfigError(f"--band {code!r} is not a {tech} band of the model; use {known}")
        return band


@cache
def load_model(path: Path = MODEL_FILE) -> Model:
    """Read and check the model parameters.

    Parameters
    ----------
    path
        The TOML file; ``twin/coverage/model.toml`` by default.

    Returns
    -------
    Model
        The parameters.

    Raises
    ------
    ConfigError
        When the file is unreadable or a value is out of range, naming the field.
    """
    try:
        model = Model.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from exc
    for code, band in model.bands.items():
        if band.technology not in model.technologies:
            raise ConfigError(f"{path}: bands.{code}: unknown technology {band.technology!r}")
    for name, tech in model.technologies.items():
        model.band(tech.default_band, name)
    return model


def technologies(model: Model | None = None) -> tuple[str, ...]:
    """Return every technology a report can give: the mobile ones and ``gigabit``."""
    return (*(model or load_model()).technologies, "gigabit")


def check_tech(tech: str, model: Model | None = None) -> str:
    """Return ``tech`` in lower case if the model knows it.

    Raises
    ------
    ConfigError
        When the model does not compute ``tech``.
    """
    name = tech.strip().lower()
    known = technologies(model)
    if name not in known:
        raise ConfigError(f"unknown technology {tech!r}; use one of {', '.join(known)}")
    return name


def band_codes(bands: pd.Series) -> pd.Series:
    """Return the band code of register band labels: ``'NR 3.5 GHz (n78)'`` gives ``'n78'``."""
    text = bands.astype("string").str.strip()
    code = text.str.extract(r"\(([A-Za-z]{1,3}\d{1,3})\)\s*$", expand=False)
    return code.fillna(text)


def height_factor(height_m: np.ndarray, model: Model) -> np.ndarray:
    """Return the range factor of each antenna height (1 at the reference height)."""
    radio = model.radio
    ratio = np.asarray(height_m, dtype=float) / radio.reference_height_m
    factor: np.ndarray = np.clip(
        ratio**radio.height_exponent, radio.min_height_factor, radio.max_height_factor
    )
    return factor


def emitters(sites: pd.DataFrame, tech: str, model: Model | None = None) -> pd.DataFrame:
    """Derive the emitters of ``tech`` from mobile sites (vectorised).

    Parameters
    ----------
    sites
        One row per site: ``site_id``, ``operator``, ``technologies`` and ``bands`` (register
        list text, ``;``-separated), ``azimuths_deg`` (list text or empty), ``antenna_height_m``
        (may be missing), ``x`` and ``y`` (EPSG:3794).
    tech
        A mobile technology of the model, e.g. ``'5g'``.
    model
        The parameters; ``model.toml`` by default.

    Returns
    -------
    pandas.DataFrame
        :data:`EMITTER_COLUMNS`: one row per site and band of ``tech``; ``azimuths`` is the
        ``;``-separated sector azimuths, empty for an omni emitter.
    """
    model = model or load_model()
    spec = model.technologies[tech]
    techs = sites["technologies"].astype("string").fillna("")
    has = techs.str.contains(rf"(?:^|;)\s*{spec.site_technology}\s*(?:;|$)", regex=True)
    own = sites[has.to_numpy(dtype=bool)].reset_index(drop=True)
    if own.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EMITTER_COLUMNS})
    listed = own["bands"].astype("string").fillna("").str.split(";").explode()
    codes = band_codes(listed)
    ranges = {c: b.range_m for c, b in model.bands.items() if b.technology == tech}
    keep = codes.isin(ranges).to_numpy(dtype=bool)
    per_band = pd.DataFrame({"row": listed.index.to_numpy()[keep], "band": codes[keep].to_numpy()})
    without = np.setdiff1d(np.arange(len(own)), per_band["row"].to_numpy())
    fallback = pd.DataFrame({"row": without, "band": spec.default_band})
    per_band = pd.concat([per_band, fallback], ignore_index=True).drop_duplicates()
    per_band = per_band.sort_values(["row", "band"], kind="stable").reset_index(drop=True)
    rows = own.iloc[per_band["row"].to_numpy()].reset_index(drop=True)
    height = pd.to_numeric(rows["antenna_height_m"], errors="coerce").fillna(
        model.radio.default_height_m
    )
    azimuths = rows["azimuths_deg"].astype("string").fillna("").str.replace(" ", "")
    if not model.radio.use_sectors:
        azimuths = pd.Series("", index=rows.index, dtype="string")
    base = per_band["band"].map(ranges).to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "site_id": rows["site_id"].astype(str).to_numpy(),
            "operator": rows["operator"].astype(str).to_numpy(),
            "x": rows["x"].to_numpy(dtype=float),
            "y": rows["y"].to_numpy(dtype=float),
            "height_m": height.to_numpy(dtype=float),
            "band": per_band["band"].to_numpy(),
            "range_m": base * height_factor(height.to_numpy(dtype=float), model),
            "near_m": model.radio.near_field_m,
            "beam_deg": model.radio.beam_width_deg,
            "azimuths": azimuths.to_numpy(dtype=object),
        }
    )


@dataclass(frozen=True)
class Site:
    """A hypothetical site for a what-if or a suggestion (not in the register).

    ``lon``/``lat`` are WGS84 degrees; ``bands`` are band codes of the model (the
    technology's default band when empty); ``azimuths_deg`` empty means omni.
    """

    lon: float
    lat: float
    tech: str = "5g"
    bands: tuple[str, ...] = ()
    height_m: float | None = None
    azimuths_deg: tuple[float, ...] = field(default_factory=tuple)
    operator: str = "what-if"

    def xy(self) -> tuple[float, float]:
        """Return the site's EPSG:3794 coordinates."""
        x, y = _to_storage().transform(self.lon, self.lat)
        return float(x), float(y)

    def frame(self, model: Model | None = None) -> pd.DataFrame:
        """Return the site as a one-row sites frame for :func:`emitters`.

        Raises
        ------
        ConfigError
            When the technology or a band is not in the model.
        """
        model = model or load_model()
        tech = check_tech(self.tech, model)
        if tech not in model.technologies:
            raise ConfigError(f"a what-if site is a mobile site: use one of "
                              f"{', '.join(model.technologies)}, not {tech}")  # fmt: skip
        codes = self.bands or (model.technologies[tech].default_band,)
        labels = [model.band(code, tech).label for code in codes]
        x, y = self.xy()
        return pd.DataFrame(
            {"site_id": ["what-if"], "operator": [self.operator],
             "technologies": [model.technologies[tech].site_technology],
             "bands": [";".join(labels)],
             "azimuths_deg": [";".join(f"{a:g}" for a in self.azimuths_deg)],
             "antenna_height_m": [self.height_m or model.radio.default_height_m],
             "x": [x], "y": [y]}
        )  # fmt: skip


@cache
def _to_storage() -> Transformer:
    return Transformer.from_crs(DISPLAY_SRID, STORAGE_SRID, always_xy=True)


@cache
def _to_display() -> Transformer:
    return Transformer.from_crs(STORAGE_SRID, DISPLAY_SRID, always_xy=True)


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return WGS84 longitude and latitude of EPSG:3794 coordinates (vectorised)."""
    lon, lat = _to_display().transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon), np.asarray(lat)
