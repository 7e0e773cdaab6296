import streamlit as st

from twin import TwinError
from twin.scene import MAP_HEIGHT_PX, MAP_TABLES, district_deck, legend_html
from twin.sources import attributions
from views import _data

try:
    db_url = _data.url()
    districts = _data.districts(db_url)
    municipality = _data.municipality(db_url)
    roads = _data.roads(db_url)
    datasets = _data.datasets(db_url)
except TwinError as exc:
    _data.stop_not_ready(exc)

boundary = municipality.iloc[0]
name = _data.md_escape(boundary["name"])
st.subheader(f"Mestna občina {name}: mestne četrti and krajevne skupnosti")

map_column, legend_column = st.columns([3, 1])
with map_column:
    st.pydeck_chart(
        district_deck(districts, municipality, roads),
        height=MAP_HEIGHT_PX,
        alt="Map of Maribor's mestne četrti and krajevne skupnosti over its roads",
    )
with legend_column:
    st.html(legend_html(districts, municipality, roads, datasets))
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

st.caption(
    f"Official area of the municipality {boundary['official_area_km2']:.2f} km²; "
    f"area of the stored (coarse) boundary {boundary['area_km2']:.2f} km². "
    "Every computed area is measured in EPSG:3794 (D96/TM). Hover a district for its areas."
)
columns = ["name", "kind_label", "official_area_km2", "area_km2", "approximate", "geometry_note"]
st.dataframe(
    districts[columns],
    hide_index=True,
    width="stretch",
    column_config={
        "name": st.column_config.TextColumn("Name"),
        "kind_label": st.column_config.TextColumn("Kind"),
        "official_area_km2": st.column_config.NumberColumn("Official area (km²)", format="%.2f"),
        "area_km2": st.column_config.NumberColumn("Computed area (km²)", format="%.2f"),
        "approximate": st.column_config.CheckboxColumn("Approximate polygon"),
        "geometry_note": st.column_config.TextColumn("Shape", width="large"),
    },
)
st.caption("  \n".join(_data.md_escape(line) for line in attributions(datasets, MAP_TABLES)))
