from datetime import date, datetime, time
from pathlib import Path

import streamlit as st

from twin import TwinError
from twin.coverage import technologies
from twin.kpi import load_catalog
from twin.scene import MAP_TABLES
from twin.scene.city import camera, hit_camera, presets, scene_deck
from twin.scene.explore import describe, export_geojson, legend_html, picked_geometry, search
from twin.scene.overlays import TECH_LABELS, coverage_overlay, kpi_overlay
from twin.scene.overlays import legend_html as overlay_legend
from twin.scene.snapshot import png_button_html
from twin.sources import attributions
from views import _data
from views import _scene as sc

SENSORS_PAGE = Path(__file__).with_name("sensors.py")
NO_KPI = "(none)"

try:
    db_url = _data.url()
    districts = _data.districts(db_url)
    municipality = _data.municipality(db_url)
    datasets = _data.datasets(db_url)
    version = sc.version(db_url)
except TwinError as exc:
    _data.stop_not_ready(exc)

boundary = municipality.iloc[0]
st.subheader(f"Mestna občina {_data.md_escape(boundary['name'])}: the city in 3D")

# --- choices ----------------------------------------------------------------------------------
views = presets(districts, municipality)
top = st.columns([2.2, 1.3, 0.8, 1.3, 1.4])
with top[0]:
    query = st.text_input(
        "Search a street, address, asset id or name",
        key="scene-search",
        placeholder="e.g. Partizanska, street_light:12, Mladinski dom",
    )
with top[1]:
    asked = st.query_params.get("camera", "")  # a link may open on a preset
    names = list(views)
    preset = st.selectbox(
        "Camera", names, index=names.index(asked) if asked in views else 0, key="scene-preset"
    )
with top[2]:
    three_d = st.toggle("3D", value=True, key="scene-3d")
with top[3]:
    as_of_on = st.toggle("Register as of a date", key="scene-as-of-on")
    as_of_day = st.date_input(
        "As of (end of day)",
        value=date.today(),
        key="scene-as-of",
        disabled=not as_of_on,
        label_visibility="collapsed",
    )
as_of = datetime.combine(as_of_day, time(23, 59)).astimezone() if as_of_on else None

try:
    scene = sc.live_scene(db_url, version, as_of)
except TwinError as exc:
    _data.stop_not_ready(exc)

buildings = scene.layers.get("buildings")
colourings = {} if buildings is None else {c.title: n for n, c in buildings.spec.colour_by.items()}
with top[4]:
    colour_title = st.selectbox(
        "Colour buildings by", list(colourings) or ["(no buildings)"], key="scene-colour"
    )
colouring = {"buildings": colourings.get(colour_title, "")}

if st.session_state.get("scene-last-preset") != preset:  # a new preset moves the camera
    st.session_state["scene-last-preset"] = preset
    st.session_state.pop(sc.VIEW, None)

hits = search(query, db_url) if query.strip() else None
if hits is not None:
    if hits.empty:
        st.info(f"Nothing found for “{_data.md_escape(query)}”.", icon=":material/search_off:")
    else:
        labels = hits["shown"].tolist()
        pick = st.selectbox(
            "Results", range(len(hits)), format_func=labels.__getitem__, key=f"scene-hit-{query}"
        )
        if st.button("Fly there", icon=":material/flight:", key="scene-fly"):
            hit = hits.iloc[int(pick)]
            st.session_state[sc.VIEW] = (
                float(hit["lon"]),
                float(hit["lat"]),
                float(hit["size_m"] or 0),
            )
            if hit["kind"] in ("asset", "address") and hit["id"]:
                layer_of = {
                    p.spec.table: k for k, p in scene.layers.items() if p.spec.source != "table"
                }
                st.session_state[sc.PICKED] = (layer_of.get(str(hit["class"]), ""), str(hit["id"]))
            st.session_state[sc.MAP_N] = st.session_state.get(sc.MAP_N, 0) + 1

picked_now = sc.take_pick(scene.layers)
picked = st.session_state.get(sc.PICKED)
if picked_now is not None:
    where = picked_geometry(scene, *picked_now)
    if where is not None:
        point = where[0].representative_point()
        st.session_state[sc.VIEW] = (point.x, point.y, 0.0)

target = st.session_state.get(sc.VIEW)
if target is None:
    view_bounds = views[preset]
    view = camera(view_bounds, three_d=three_d, max_zoom=17.5)
else:
    view, view_bounds = hit_camera(*target, three_d=three_d)

# --- map, layer switches and legend, the picked object's panel --------------------------------
map_column, side = st.columns([3, 1.15])
groups: dict[str, list[str]] = {}
for layer_id, prepared in scene.layers.items():
    groups.setdefault(prepared.spec.group or "", []).append(layer_id)
with side, st.expander("Layers", expanded=picked is None, icon=":material/layers:"):
    visible = set()
    for group, ids in groups.items():
        st.caption(_data.md_escape(group))
        for layer_id in ids:
            spec = scene.layers[layer_id].spec
            title = _data.md_escape(spec.title)
            if st.checkbox(title, value=spec.visible, key=f"scene-show-{layer_id}"):
                visible.add(layer_id)
    st.caption("Indicators")
    kpis = {k.name_en: k for k in load_catalog().kpi if k.spatial}
    kpi_name = st.selectbox("KPI per district", [NO_KPI, *kpis], key="scene-kpi")
    st.caption("Coverage (people a technology does not reach)")
    techs = [
        tech
        for tech in technologies()
        if st.checkbox(
            f"Uncovered: {TECH_LABELS.get(tech, tech)}", value=False, key=f"scene-coverage-{tech}"
        )
    ]

overlays = []
try:
    if kpi_name in kpis:
        results = sc.kpi_results(db_url, version)
        overlays.append(kpi_overlay(districts, results, kpis[kpi_name]))
    for tech in techs:
        gaps = sc.coverage_gaps(db_url, tech, version)
        overlays.append(coverage_overlay(gaps, tech, TECH_LABELS.get(tech, tech)))
except TwinError as exc:
    st.error(_data.md_escape(exc), icon=":material/error:")
placed = [o.placed for o in overlays]


@st.fragment(run_every=sc.LIVE_TTL_S)
def live_map(view, geometry) -> None:  # noqa: ANN001 - a pydeck view, a picked shape
    """Draw the map with the sensors' latest readings; a click reruns the whole page."""
    fresh = sc.live_scene(db_url, version, as_of)
    st.pydeck_chart(
        scene_deck(fresh, municipality, view, visible=visible, colouring=colouring,
                   three_d=three_d, picked=geometry, overlays=placed),
        height=640, key=sc.map_key(), on_select="rerun", selection_mode="single-object",
    )  # fmt: skip
    # the panel and the camera are outside the fragment: a click reruns the whole page
    if sc.has_pick(fresh.layers) or sc.fly_to_overlay({o.id for o in overlays}):
        st.rerun()


@st.fragment(run_every=sc.LIVE_TTL_S)
def live_legend() -> None:
    """Draw the legend of what is shown (the live layers' counts read anew)."""
    fresh = sc.live_scene(db_url, version, as_of)
    st.html(overlay_legend(overlays) + legend_html(fresh, visible, colouring))


geometry = picked_geometry(scene, *picked) if picked else None
with map_column:
    live_map(view, geometry)
    note = [f"register version {scene.version}"]
    if as_of is not None:
        note.append(
            f"register as it was on {as_of:%Y-%m-%d %H:%M} (sensors and base layers as now)"
        )
    st.caption(
        "Drag to pan, scroll to zoom, right-drag (or Ctrl-drag) to tilt and turn; "
        "click a building or an asset for its details. " + "; ".join(note) + "; "
        f"the sensors' latest readings are read anew every {sc.LIVE_TTL_S} s."
    )

with side:
    if picked:
        details = describe(scene, *picked, url=db_url)
        st.markdown(f"**{_data.md_escape(details.title)}**")
        if details.missing:
            st.warning(_data.md_escape(details.missing), icon=":material/warning:")
        tabs = st.tabs(["Attributes", "History", "Readings"])
        with tabs[0]:
            st.dataframe(details.attributes, hide_index=True, width="stretch", height=260)
        with tabs[1]:
            for v in reversed(details.history[-12:]):
                what = "; ".join(v.changes) if v.changes else v.operation
                who = _data.md_escape(v.changed_by)
                why = f"  \n*{_data.md_escape(v.reason)}*" if v.reason else ""
                st.markdown(
                    f"**v{v.version}** · {v.valid_from:%Y-%m-%d %H:%M} · {who}  \n"
                    f"{_data.md_escape(what)}{why}"
                )
            if not details.history:
                st.caption("No register history for this object.")
        with tabs[2]:
            if details.readings.empty:
                st.caption("No live readings for this object.")
            else:
                st.dataframe(details.readings, hide_index=True, width="stretch")
        buttons = st.columns(3)
        if details.register and buttons[0].button(
            "Register", icon=":material/inventory_2:", key="scene-to-register"
        ):
            st.session_state["register-class"] = details.id.split(":")[0]
            st.session_state["register-asset"] = details.id
            st.switch_page("views/register.py")
        has_readings = not details.readings.empty and SENSORS_PAGE.exists()
        to_sensors = buttons[1].button(
            "Sensors", icon=":material/sensors:", key="scene-to-sensors", disabled=not has_readings
        )
        if to_sensors and has_readings:
            st.session_state["sensors-sensor"] = details.id
            st.switch_page("views/sensors.py")
        if buttons[2].button("Close", icon=":material/close:", key="scene-close"):
            st.session_state.pop(sc.PICKED, None)
            st.rerun()
    live_legend()
    st.html(png_button_html(), unsafe_allow_javascript=True)
    if st.button("GeoJSON of the visible features", icon=":material/download:", key="scene-export"):
        payload, count = export_geojson(scene, visible, view_bounds)
        st.download_button(
            f"Download {count:,} features",
            payload,
            file_name="maribor-view.geojson",
            mime="application/geo+json",
            key="scene-download",
        )

# --- what the map shows -----------------------------------------------------------------------
approximate = districts[districts["approximate"]]
if len(approximate):
    kinds = ", ".join(_data.md_escape(kind) for kind in sorted(set(approximate["kind_label"])))
    note = _data.md_escape(approximate["geometry_note"].iloc[0])
    st.warning(
        f"**{len(approximate)} approximate shapes** ({kinds}). There is no official "
        f"polygon, so the project derives one ({note}) "
        "and flags it synthetic. The official areas come from GURS.",
        icon=":material/warning:",
    )
synthetic = sorted(
    p.spec.title
    for p in scene.layers.values()
    if "synthetic" in p.frame and p.frame["synthetic"].astype(bool).any()
)
if synthetic:
    # plain type on purpose: italics or code here would make a first visit fetch two more
    # font faces (~230 kB) for one banner
    st.info(
        "Synthetic (generated, each row flagged synthetic): "
        + ", ".join(_data.md_escape(t) for t in synthetic)
        + ". See the Data & sources page.",
        icon=":material/science:",
    )
# drawn only when opened: a closed expander would still send the table and make the browser
# fetch the data grid's code before anyone asked for it
districts_table = st.expander(
    "Mestne četrti and krajevne skupnosti",
    icon=":material/table:",
    key="scene-districts-table",
    on_change="rerun",
)
if districts_table.open:
    columns = [
        "name",
        "kind_label",
        "official_area_km2",
        "area_km2",
        "approximate",
        "geometry_note",
    ]
    districts_table.dataframe(
        districts[columns],
        hide_index=True,
        width="stretch",
        column_config={
            "name": st.column_config.TextColumn("Name"),
            "kind_label": st.column_config.TextColumn("Kind"),
            "official_area_km2": st.column_config.NumberColumn(
                "Official area (km²)", format="%.2f"
            ),
            "area_km2": st.column_config.NumberColumn("Computed area (km²)", format="%.2f"),
            "approximate": st.column_config.CheckboxColumn("Approximate polygon"),
            "geometry_note": st.column_config.TextColumn("Shape", width="large"),
        },
    )
tables = (*MAP_TABLES, "bus_routes", "bus_stops")
st.caption("  \n".join(_data.md_escape(line) for line in attributions(datasets, tables)))
