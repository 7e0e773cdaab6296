import pandas as pd
import streamlit as st

from twin import TwinError
from twin.coverage import Site, load_model, measure, technologies
from twin.coverage.gaps import gap_frame
from twin.coverage.report import districts as district_scopes
from twin.coverage.report import summarise
from twin.coverage.suggest import suggest, suggestion_frame
from twin.coverage.whatif import save_planned, whatif
from twin.register.users import authenticate
from twin.scene import MAP_HEIGHT_PX
from twin.scene.coverage import coverage_deck, coverage_legend_html, site_frame
from views import _data

LABELS = {"gigabit": "Gigabit broadband", "5g": "5G", "4g": "4G"}


@st.cache_data(ttl="5m", show_spinner="measuring coverage…")
def _coverage(db_url: str, tech: str):  # noqa: ANN202 - a cached Coverage
    return measure(tech, db_url)


@st.cache_data(ttl="5m", show_spinner=False)
def _scopes(db_url: str) -> pd.DataFrame:
    return district_scopes(db_url)


@st.cache_data(ttl="5m", show_spinner="ranking candidate sites…")
def _suggestions(db_url: str, tech: str, n: int, band: str):  # noqa: ANN202 - cached list
    return suggest(n, tech, db_url, band=band)


@st.cache_data(ttl="5m", show_spinner="computing the what-if…")
def _whatif(db_url: str, site: Site):  # noqa: ANN202 - a cached WhatIf
    return whatif(site, db_url)


try:
    db_url = _data.url()
    model = load_model()
    districts = _data.districts(db_url)
    municipality = _data.municipality(db_url)
    roads = _data.roads(db_url)
    tech = st.radio(
        "Technology", technologies(model), format_func=lambda t: LABELS.get(t, t), horizontal=True
    )
    coverage = _coverage(db_url, tech)
    results = summarise(coverage, _scopes(db_url))
except TwinError as exc:
    _data.stop_not_ready(exc)

city = results[0]
st.subheader(f"Coverage of the population: {LABELS.get(tech, tech)}")
if city.population == 0:
    st.info("Nobody lives in the twin yet: run `twin synth` (or load buildings and the grid).")
    st.stop()
mobile = tech in model.technologies
method_note = {"model": "the coverage model", "operator": "operator polygons",
               "mixed": "operator polygons where imported, the model elsewhere"}  # fmt: skip
a, b, c = st.columns(3)
a.metric("Covered", f"{100 * (city.share or 0):.1f} %")
b.metric("People covered", f"{city.covered_population:,} of {city.population:,}")
c.metric("Uncovered", f"{city.population - city.covered_population:,}")
st.caption(
    f"Decided by {method_note[city.method]}; "
    + ("people counted per 100 m population cell. " if mobile else "people counted per building. ")
    + f"{100 * (city.synthetic_share or 0):.0f} % of them are synthetic (`twin synth`): the "
    "figures illustrate the method, not Maribor's real coverage."
)

map_slot = st.container()  # the map comes first, drawn once the what-if is known

# --- what-if and suggestions (mobile technologies) ---------------------------------------
gaps = gap_frame(coverage, model.gaps.h3_resolution)
result = None
ranked = []
if mobile:
    bands = [code for code, band in model.bands.items() if band.technology == tech]
    picked = st.session_state.get("coverage_site")
    if picked is None and len(gaps):
        picked = (float(gaps["centre_lon"].iloc[0]), float(gaps["centre_lat"].iloc[0]))
    with st.expander("What if we add a site here? (click a gap cell on the map)", expanded=True):
        left, middle, right = st.columns(3)
        lon = left.number_input("Longitude", value=float(picked[0]) if picked else 15.6459,
                                format="%.5f", step=0.001)  # fmt: skip
        lat = middle.number_input("Latitude", value=float(picked[1]) if picked else 46.5547,
                                  format="%.5f", step=0.001)  # fmt: skip
        band = right.selectbox(
            "Band", bands, index=bands.index(model.technologies[tech].default_band)
        )
        height = left.slider("Antenna height (m)", 5.0, 60.0, model.radio.default_height_m, 1.0)
        try:
            site = Site(float(lon), float(lat), tech, (band,), float(height))
            result = _whatif(db_url, site)
        except TwinError as exc:
            st.error(_data.md_escape(exc))
        if result is not None:
            change = result.city
            middle.metric(
                "Newly covered",
                f"{change.new_covered:,}",
                f"{100 * (change.delta_share or 0):+.2f} pp",
            )
            right.metric("Share with the site", f"{100 * (change.share_after or 0):.2f} %")
            rows = pd.DataFrame([r.__dict__ for r in result.results])
            st.dataframe(
                rows[(rows["scope_kind"] == "city") | (rows["new_covered"] > 0)][
                    ["scope", "population", "covered_before", "covered_after", "new_covered",
                     "share_before", "share_after"]
                ],
                hide_index=True,
                width="stretch",
            )  # fmt: skip
            with st.form("save-planned"):
                st.caption("Save this site in the register as *planned* (needs an editor).")
                user = st.text_input("User")
                password = st.text_input("Password", type="password")
                name = st.text_input("Site name", value=f"planned {tech} site")
                if st.form_submit_button("Save as planned"):
                    try:
                        actor = authenticate(user, password, db_url)
                        asset_id = save_planned(site, actor=actor, name=name, url=db_url)
                    except TwinError as exc:
                        st.error(_data.md_escape(exc))
                    else:
                        st.success(f"saved as {_data.md_escape(asset_id)} (state: planned)")
    with st.expander("Suggested sites (greedy maximal coverage)"):
        n = st.number_input("How many", min_value=1, max_value=30, value=5)
        if st.toggle("Show suggestions on the map", value=False):
            ranked = _suggestions(db_url, tech, int(n), band)
            table = suggestion_frame(ranked).drop(columns="geometry")
            st.dataframe(table, hide_index=True, width="stretch")
            st.download_button("Suggestions (CSV)", table.to_csv(index=False),
                               file_name=f"coverage_suggestions_{tech}.csv")  # fmt: skip

# --- the map ------------------------------------------------------------------------------
map_column, legend_column = map_slot.columns([3, 1])
with map_column:
    event = st.pydeck_chart(
        coverage_deck(districts, municipality, roads, gaps, site_frame(coverage), ranked, result),
        height=MAP_HEIGHT_PX,
        on_select="rerun",
        selection_mode="single-object",
        key="coverage-map",
        alt="Map of the people without coverage on H3 cells, with sites and suggestions",
    )
    chosen = (event.selection.objects or {}).get("coverage_gaps") if event else None
    if chosen and mobile:
        props = chosen[0].get("properties", chosen[0])
        clicked = (float(props["site_lon"]), float(props["site_lat"]))
        if clicked != st.session_state.get("coverage_site"):
            st.session_state["coverage_site"] = clicked
            st.rerun()
with legend_column:
    st.html(coverage_legend_html())
    st.caption(
        f"{len(gaps)} H3 cells (resolution {model.gaps.h3_resolution}) hold "
        f"{int(gaps['uncovered_population'].sum()):,} uncovered people."
    )
    st.download_button(
        "Gap map (GeoJSON)", gaps.to_json(), file_name=f"coverage_gaps_{tech}.geojson"
    )

# --- per district -------------------------------------------------------------------------
table = pd.DataFrame([r.as_dict() for r in results])
st.dataframe(
    table[["scope", "scope_kind", "population", "covered_population", "share", "method",
           "covered_by_operator"]],
    hide_index=True,
    width="stretch",
    column_config={
        "scope": st.column_config.TextColumn("Scope"),
        "scope_kind": st.column_config.TextColumn("Kind"),
        "population": st.column_config.NumberColumn("Population", format="%d"),
        "covered_population": st.column_config.NumberColumn("Covered", format="%d"),
        "share": st.column_config.ProgressColumn("Share", min_value=0.0, max_value=1.0,
                                                 format="percent"),
        "method": st.column_config.TextColumn("Decided by"),
        "covered_by_operator": st.column_config.NumberColumn("In operator polygons", format="%d"),
    },
)  # fmt: skip
