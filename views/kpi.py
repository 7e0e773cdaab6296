from datetime import UTC, date, datetime

import geopandas as gpd
import pandas as pd
import streamlit as st

from twin import TwinError
from twin.kpi import Kpi, compute, load_catalog, set_value, trend
from twin.kpi.calculators import Result
from twin.kpi.catalog import REGISTER_KINDS
from twin.kpi.drill import behind
from twin.kpi.report import html_report, results_csv
from twin.scene import MAP_HEIGHT_PX
from twin.scene.kpi import MAX_DRAWN, assets_deck, choropleth_deck, legend_html
from twin.scene.overlays import district_values
from views import _data
from views._register import sign_in_sidebar

CITY = "city"
#: What one unit of an asset's weight is, by the KPI's weight attribute or calculator.
WEIGHT_LABELS = {"capacity": "spaces", "area_share": "ha", "area_sum": "ha",
                 "walk_share": "inhabitants"}  # fmt: skip


@st.cache_data(ttl="2m", show_spinner="computing the KPIs in PostGIS…")
def _results(db_url: str, window_hours: float) -> list[Result]:
    return compute(db_url, window_hours=window_hours)


@st.cache_data(ttl="2m", show_spinner=False)
def _trend(db_url: str) -> pd.DataFrame:
    return trend(db_url)


@st.cache_data(ttl="2m", show_spinner="finding the assets behind the number…")
def _behind(db_url: str, kpi_id: str, district_id: int | None, window: float) -> gpd.GeoDataFrame:
    return behind(kpi_id, district_id, db_url, window_hours=window)


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "yes/no":
        return "yes" if value >= 1 else "no"
    if float(value).is_integer():
        text = f"{value:,.0f}"
    elif abs(value) < 1:
        text = f"{value:.3g}"
    else:
        text = f"{value:,.1f}"
    return f"{text} {unit}".strip()


def _card(kpi: Kpi, result: Result | None, history: pd.DataFrame) -> None:
    value = result.value if result else None
    series = history["value"].dropna().tolist() if len(history) else []
    previous = series[-1] if series else None
    delta, colour = None, "normal" if kpi.direction == "higher" else "inverse"
    if value is not None and previous is not None:
        change = value - previous
        delta = f"{change:+,.2f} since the last snapshot" if change else "as at the last snapshot"
        colour = colour if change else "off"
    st.metric(
        _data.md_escape(kpi.name_en),
        _number(value, kpi.unit),
        delta,
        delta_color=colour,
        delta_arrow="auto" if delta and colour != "off" else "off",
        help=_data.md_escape(f"{kpi.name_sl}. {kpi.iso or 'No ISO 37120/37122 indicator.'}"),
        border=True,
        chart_data=[*series, value] if series and value is not None else None,
    )
    parts = [f"target 2030: {_number(kpi.target_2030, kpi.unit)}"]
    details = result.details if result else {}
    if kpi.manual:
        parts.append(
            f"entered for {details['observed_on']} from {details['source']}"
            if details.get("entered")
            else "no value entered yet"
        )
    elif result is not None:
        parts.append(f"{_number(result.numerator, '')} {kpi.numerator} / "
                     f"{_number(result.denominator, '')} {kpi.denominator}")  # fmt: skip
        if result.synthetic_share:
            parts.append(f"{100 * result.synthetic_share:.0f} % synthetic")
        if result.reporting is not None:
            parts.append(f"{result.reporting:,.0f} reporting now")
        if details.get("straight_line_value") is not None:
            parts.append(f"straight line: {details['straight_line_value']:.1f} %")
        if details.get("data_changed_at"):
            parts.append(f"register changed {str(details['data_changed_at'])[:16]}")
        if details.get("latest_reading"):
            parts.append(f"latest reading {str(details['latest_reading'])[:16]}")
    st.caption(" · ".join(_data.md_escape(p) for p in parts))


catalog = load_catalog()
try:
    db_url = _data.url()
    districts = _data.districts(db_url)
    municipality = _data.municipality(db_url)
    roads = _data.roads(db_url)
    window = float(
        st.sidebar.number_input(
            "Reporting window (hours)", min_value=1.0, max_value=24.0 * 30,
            value=catalog.settings.reporting_window_hours, step=1.0,
            help="A sensor reports when its latest value is at most this old.",
        )
    )  # fmt: skip
    results = _results(db_url, window)
    history = _trend(db_url)
except TwinError as exc:
    _data.stop_not_ready(exc)

computed_at = results[0].computed_at if results else datetime.now(UTC)
st.subheader("Strategija Pametno mesto Maribor 2030: smart-city KPIs")
st.caption(
    f"Computed from the twin's database at {computed_at:%Y-%m-%d %H:%M} UTC, per ISO 37120 / "
    "ISO 37122 where an indicator exists. Figures marked synthetic come from generated data "
    "(`twin synth`) and illustrate the method, not Maribor's real state."
)

# --- the seven areas ----------------------------------------------------------------------
city_results = {r.id: r for r in results if r.district_id is None}
area_rows = []
for area in catalog.area:
    kpis = [k for k in catalog.kpi if k.area == area.id]
    with_value = [
        k for k in kpis if city_results.get(k.id) and city_results[k.id].value is not None
    ]
    area_rows.append(
        {"area": f"{area.name_sl} / {area.name_en}", "maturity": area.maturity,
         "target": area.maturity_target_2030, "goal": area.goal_sl, "kpis": len(kpis),
         "with_value": len(with_value)}
    )  # fmt: skip
st.dataframe(
    pd.DataFrame(area_rows),
    hide_index=True,
    width="stretch",
    column_config={
        "area": st.column_config.TextColumn("Area"),
        "maturity": st.column_config.ProgressColumn(
            "Maturity (2022)", min_value=0, max_value=100, format="%.0f %%"
        ),
        "target": st.column_config.ProgressColumn(
            "Target 2030", min_value=0, max_value=100, format="%.0f %%"
        ),
        "goal": st.column_config.TextColumn("Goal (CILJ)", width="large"),
        "kpis": st.column_config.NumberColumn("KPIs"),
        "with_value": st.column_config.NumberColumn("With a value"),
    },
)

# --- KPI cards ----------------------------------------------------------------------------
names = {
    None: CITY,
    **{int(i): str(n) for i, n in zip(districts["id"], districts["name"], strict=True)},
}
scope_id = st.selectbox(
    "Scope", list(names), format_func=lambda i: "Mestna občina Maribor" if i is None else names[i]
)
scope_name = names[scope_id]
if scope_id is not None:
    unit = districts[districts["id"] == scope_id].iloc[0]
    if bool(unit["approximate"]):
        st.warning(
            f"**{_data.md_escape(unit['name'])}** has no official polygon: the twin derives an "
            f"approximate one ({_data.md_escape(unit['geometry_note'])}), so the figures of "
            "this scope are approximate too.",
            icon=":material/warning:",
        )
by_scope = {r.id: r for r in results if r.scope == scope_name}
for tab, area in zip(st.tabs([a.name_en for a in catalog.area]), catalog.area, strict=True):
    with tab:
        kpis = [k for k in catalog.kpi if k.area == area.id and (k.spatial or scope_id is None)]
        columns = st.columns(3)
        for i, kpi in enumerate(kpis):
            past = history[(history["kpi_id"] == kpi.id) & (history["scope"] == scope_name)]
            with columns[i % 3]:
                _card(kpi, by_scope.get(kpi.id), past)
        if scope_id is not None:
            st.caption("Entered indicators are city-wide: choose the city to see them.")

# --- district choropleth ------------------------------------------------------------------
spatial = [k for k in catalog.kpi if k.spatial]
st.markdown("#### Per district")
chosen = st.selectbox("KPI on the map", spatial, format_func=lambda k: k.name_en, key="map_kpi")
rows = pd.DataFrame([r.as_dict() for r in results if r.id == chosen.id and r.district_id])
approximate = districts.set_index(districts["id"].astype(int))["approximate"].astype(bool)
rows["approximate"] = rows["district_id"].astype(int).map(approximate).fillna(value=False)
values = district_values(results, chosen.id)
map_column, legend_column = st.columns([3, 1])
with map_column:
    st.pydeck_chart(
        choropleth_deck(districts, municipality, roads, values, chosen.direction, chosen.unit),
        height=MAP_HEIGHT_PX,
    )
with legend_column:
    st.html(legend_html(choropleth=True))
st.dataframe(
    rows[["scope", "scope_kind", "value", "numerator", "denominator", "synthetic_share",
          "approximate"]],
    hide_index=True,
    width="stretch",
    column_config={"value": st.column_config.NumberColumn(f"Value ({chosen.unit})",
                                                          format="%.2f"),
                   "approximate": st.column_config.CheckboxColumn(
                       "Approximate polygon",
                       help="No official polygon: the twin derives one, so the figure is "
                            "approximate")},
)  # fmt: skip

# --- drill-down ---------------------------------------------------------------------------
st.markdown("#### The assets behind a number")
drillable = [k for k in spatial if k.calculator in (*REGISTER_KINDS, "walk_share")]
left, right = st.columns(2)
drill = left.selectbox("KPI", drillable, format_func=lambda k: k.name_en, key="drill_kpi")
drill_scope = right.selectbox(
    "Where", list(names), format_func=lambda i: "the whole city" if i is None else names[i],
    index=1 if len(names) > 1 else 0, key="drill_scope",
)  # fmt: skip
try:
    assets = _behind(db_url, drill.id, drill_scope, window)
except TwinError as exc:
    st.error(_data.md_escape(exc))
    st.stop()
counted = int(assets["flagged"].sum())
st.caption(
    _data.md_escape(
        f"{len(assets):,} {drill.denominator if drill.is_share else 'items'} in "
        f"{names[drill_scope] if drill_scope else 'the city'}: {counted:,} counted in the "
        f"numerator ({drill.numerator}), {len(assets) - counted:,} not"
        + (f"; the map draws the first {MAX_DRAWN:,}" if len(assets) > MAX_DRAWN else "")
    )
)
scope_frame = municipality if drill_scope is None else districts[districts["id"] == drill_scope]
weight_label = WEIGHT_LABELS.get(drill.weight or drill.calculator, "counts")
map_column, legend_column = st.columns([3, 1])
with map_column:
    st.pydeck_chart(
        assets_deck(assets, municipality, roads, scope_frame, weight_label), height=MAP_HEIGHT_PX
    )
with legend_column:
    st.html(legend_html(choropleth=False))
st.dataframe(pd.DataFrame(assets.drop(columns="geometry")), hide_index=True, width="stretch")

# --- exports ------------------------------------------------------------------------------
st.markdown("#### Export")
left, right = st.columns(2)
left.download_button(
    "All results (CSV)", results_csv(results), file_name="twin_kpi_results.csv", mime="text/csv"
)
right.download_button(
    "Printable report (HTML)",
    html_report(results, generated_at=computed_at).encode("utf-8"),
    file_name="twin_kpi_report.html",
    mime="text/html",
)

# --- entered indicators (editors) ---------------------------------------------------------
with st.expander("Enter a value of an indicator that is not computed"):
    actor = sign_in_sidebar(db_url)
    if actor is None:
        st.info("Sign in as an editor (in the sidebar) to enter values.")
    elif not actor.can_edit:
        st.warning(_data.md_escape(f"{actor.name} is a {actor.role}; only editors enter values."))
    elif actor is not None:
        manual = [k for k in catalog.kpi if k.manual]
        with st.form("kpi-value"):
            kpi = st.selectbox("Indicator", manual, format_func=lambda k: k.name_sl)
            value = st.number_input("Value (yes/no: 1 or 0)", value=0.0, format="%.3f")
            observed = st.date_input("Refers to", value=date.today())
            source = st.text_input("Source (report, register, office)")
            note = st.text_input("Note")
            if st.form_submit_button("Save"):
                try:
                    set_value(kpi.id, float(value), observed_on=observed, source=source,
                              note=note or None, actor=actor, url=db_url)  # fmt: skip
                except TwinError as exc:
                    st.error(_data.md_escape(exc))
                else:
                    _results.clear()
                    st.success(_data.md_escape(f"saved {kpi.id} = {value:g} for {observed}"))
