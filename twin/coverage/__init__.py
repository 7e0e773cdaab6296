"""Coverage analysis: who has gigabit broadband and 5G, where the gaps are, where to add sites.

Public API (every function takes ``url``, the libpq URL, the twin's database by default):

``report(tech=None, url=None, *, scopes=None) -> list[CoverageResult]``
    Covered and total population per technology (``'gigabit'``, ``'5g'``, ``'4g'``; gigabit
    and 5G when ``None``) for the city (``scope='city'``) and each district (``scope`` = its
    name, ``district_id`` its id). Each :class:`CoverageResult` has ``tech``, ``scope``,
    ``population``, ``covered_population``, ``share`` (``None`` when nobody lives there),
    ``method`` (``'model'``, ``'operator'`` or ``'mixed'``), ``covered_by_operator``,
    ``synthetic_share``, ``scope_kind`` and ``district_id``. The KPI engine's
    ``population_share_gigabit`` and ``population_share_5g`` are
    ``report('gigabit' | '5g', url, scopes=[...])``.
``measure(tech, url=None) -> Coverage``
    The same, person by person: every populated grid cell (mobile technologies) or inhabited
    building (gigabit) with flags ``by_model``, ``by_operator``, ``covered``.
``whatif(site, url=None) -> WhatIf``
    What a hypothetical :class:`Site` adds: covered population and share before and after,
    and the delta, city and per district. Writes nothing; :func:`save_planned` adds the site
    to the register as a ``planned`` mobile site.
``suggest(n, tech='5g', url=None) -> list[Suggestion]``
    Greedy maximal coverage over the places the city can offer (existing masts, municipal
    roofs, street-light poles): ranked, with marginal population gain and cumulative share.
``gaps(tech, url=None) -> GeoDataFrame`` and ``export_gaps(path, tech)``
    Uncovered population on H3 cells (resolution in ``model.toml``), EPSG:4326.

The model and its parameters (band ranges, antenna height, sectors, beam width, near field,
line of sight over the DEM, gigabit drop distance) are documented in
:mod:`twin.coverage.model` and kept as data in ``twin/coverage/model.toml``. Real operator
polygons (``register.coverage_area``) replace an operator's modelled coverage wherever they
are imported, and every result says which was used. The same population-weighted
computation runs in PostGIS (the default), in geopandas (:mod:`twin.coverage.frame`) and on
a dask cluster (:mod:`twin.coverage.distributed`).
"""

from twin.coverage.gaps import export_gaps, gaps
from twin.coverage.model import Model, Site, load_model, technologies
from twin.coverage.report import Coverage, CoverageResult, measure, report
from twin.coverage.suggest import Suggestion, suggest
from twin.coverage.whatif import WhatIf, save_planned, whatif

__all__ = [
    "Coverage",
    "CoverageResult",
    "Model",
    "Site",
    "Suggestion",
    "WhatIf",
    "export_gaps",
    "gaps",
    "load_model",
    "measure",
    "report",
    "save_planned",
    "suggest",
    "technologies",
    "whatif",
]
