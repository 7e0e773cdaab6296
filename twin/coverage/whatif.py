"""What-if: the population a hypothetical mobile site would newly cover, city and per district.

:func:`whatif` computes today's coverage and the site's own coverage in PostGIS and adds
them: the share rises by exactly the population the site covers that nobody covered before.
Nothing is written; :func:`save_planned` puts the site in the register as a *planned*
mobile site (planned sites do not count as coverage until they are active).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from twin._errors import ConfigError
from twin.coverage import _data
from twin.coverage.model import Model, Site, check_tech, emitters, load_model
from twin.coverage.report import (
    CITY,
    Method,
    covered_cells,
    measure_in,
    terrain_for,
    totals,
)
from twin.register.store import Actor, create

#: Longitude/latitude box around Maribor, to tell swapped coordinates apart.
NEAR_MARIBOR = (13.0, 45.0, 17.0, 47.5)


@dataclass(frozen=True)
class ScopeChange:
    """Coverage of one scope before and after the what-if site.

    ``new_covered`` is the population the site covers that was not covered before;
    ``delta_share`` is ``share_after - share_before``.
    """

    scope: str
    scope_kind: str
    district_id: int | None
    population: int
    covered_before: int
    covered_after: int
    new_covered: int
    share_before: float | None
    share_after: float | None
    delta_share: float | None


@dataclass(frozen=True)
class WhatIf:
    """A what-if site's effect: the site as modelled and the change per scope (city first)."""

    tech: str
    method: Method
    site: dict[str, Any]
    emitters: list[dict[str, Any]]
    covered_population: int
    results: list[ScopeChange] = field(default_factory=list)

    @property
    def city(self) -> ScopeChange:
        """Return the city's change."""
        return self.results[0]

    def as_dict(self) -> dict[str, Any]:
        """Return the what-if as a JSON-ready dict."""
        return asdict(self)


def parse_site(text: str) -> tuple[float, float]:
    """Parse ``'LON,LAT'`` (WGS84 degrees) as given to ``--site``.

    Raises
    ------
    ConfigError
        When it is not two numbers, or not a place near Maribor (swapped coordinates are
        named as such).
    """
    parts = text.replace(" ", "").split(",")
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        raise ConfigError(
            f"--site {text!r}: expected LON,LAT in degrees, e.g. 15.6459,46.5547"
        ) from None
    west, south, east, north = NEAR_MARIBOR
    if not (west <= lon <= east and south <= lat <= north):
        if west <= lat <= east and south <= lon <= north:
            raise ConfigError(f"--site {text!r}: longitude and latitude look swapped; give LON,LAT")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):  # noqa: PLR2004 - degree bounds
            raise ConfigError(f"--site {text!r}: not a longitude,latitude in degrees")
    return lon, lat


def _changes(before: pd.DataFrame, after: pd.DataFrame) -> list[ScopeChange]:
    pop = before["population"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share_b = np.where(pop > 0, before["covered"] / pop, np.nan)
        share_a = np.where(pop > 0, after["covered"] / pop, np.nan)

    def num(value: float) -> float | None:
        return float(value) if np.isfinite(value) else None

    ids = [None if pd.isna(v) else int(v) for v in before["district_id"].tolist()]
    return [
        ScopeChange(
            scope=str(scope),
            scope_kind=str(kind),
            district_id=ids[i],
            population=int(population),
            covered_before=int(b),
            covered_after=int(a),
            new_covered=int(a - b),
            share_before=num(share_b[i]),
            share_after=num(share_a[i]),
            delta_share=num(share_a[i] - share_b[i]),
        )
        for i, (scope, kind, population, b, a) in enumerate(
            zip(
                before["scope"],
                before["scope_kind"],
                before["population"].tolist(),
                before["covered"].tolist(),
                after["covered"].tolist(),
                strict=True,
            )
        )
    ]


def whatif(
    site: Site,
    url: str | None = None,
    *,
    model: Model | None = None,
    dem: Path | None = None,
) -> WhatIf:
    """Return what ``site`` would add to today's coverage of its technology.

    Parameters
    ----------
    site
        The hypothetical site (WGS84 position, technology, bands, antenna height, azimuths).
    url
        libpq URL; the twin's database by default.
    model
        The model parameters; ``twin/coverage/model.toml`` by default.
    dem
        DEM for the line-of-sight mask (only when the model switches it on).

    Returns
    -------
    WhatIf
        The site's emitters, the population it covers, and per scope (city first, then
        every district) the covered population and share before and after, and the delta.

    Raises
    ------
    ConfigError
        When the technology is not a mobile one, or a band is unknown.
    DatabaseError
        When the database cannot be reached or holds no population.
    """
    model = model or load_model()
    tech = check_tech(site.tech, model)
    frame = site.frame(model)
    new = emitters(frame, tech, model)
    terrain = terrain_for(model, dem)
    with _data.reading(url) as conn:
        coverage = measure_in(conn, tech, model, terrain)
        people = coverage.people
        reached = people["unit_id"].isin(covered_cells(conn, new, model, terrain, people))
        scopes = _data.scopes(conn)
    people["after"] = people["covered"].to_numpy() | reached.to_numpy()
    before, after = totals(people, scopes), totals(people, scopes, flag="after")
    x, y = float(frame["x"].iloc[0]), float(frame["y"].iloc[0])
    site_info = {
        "lon": site.lon, "lat": site.lat, "x": round(x, 2), "y": round(y, 2), "tech": tech,
        "bands": new["band"].tolist(), "height_m": float(frame["antenna_height_m"].iloc[0]),
        "azimuths_deg": list(site.azimuths_deg),
    }  # fmt: skip
    emitter_rows = [
        {"band": str(b), "range_m": float(r), "near_m": float(n), "beam_deg": float(w),
         "azimuths": str(a)}
        for b, r, n, w, a in new[["band", "range_m", "near_m", "beam_deg", "azimuths"]]
        .itertuples(index=False, name=None)
    ]  # fmt: skip
    return WhatIf(
        tech=tech,
        method=coverage.method,
        site=site_info,
        emitters=emitter_rows,
        covered_population=int(people.loc[reached.to_numpy(), "population"].sum()),
        results=_changes(before, after),
    )


def save_planned(
    site: Site,
    *,
    actor: Actor | None,
    reason: str | None = None,
    name: str | None = None,
    mounting: str = "mast",
    url: str | None = None,
    model: Model | None = None,
) -> str:
    """Add ``site`` to the register as a planned mobile site; return its id.

    Raises
    ------
    AccessDenied
        When ``actor`` may not edit the register.
    InvalidValue
        When a value does not fit the mobile-site class.
    """
    model = model or load_model()
    tech = check_tech(site.tech, model)
    frame = site.frame(model)
    values: dict[str, Any] = {
        "name": name or f"planned {tech} site",
        "operator": site.operator,
        "technologies": [model.technologies[tech].site_technology],
        "bands": frame["bands"].iloc[0].split(";"),
        "antenna_height_m": float(frame["antenna_height_m"].iloc[0]),
        "mounting": mounting,
        "state": "planned",
    }
    if site.azimuths_deg:
        values["sectors"] = len(site.azimuths_deg)
        values["azimuths_deg"] = [f"{a:g}" for a in site.azimuths_deg]
    return create(
        "mobile_site",
        values,
        shapely.Point(site.lon, site.lat),
        actor=actor,
        reason=reason or "what-if site saved as planned (twin coverage whatif)",
        url=url,
    )


__all__ = ["CITY", "ScopeChange", "WhatIf", "parse_site", "save_planned", "whatif"]
