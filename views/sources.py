import streamlit as st

from twin import TwinError
from views import _data

st.title("Data & sources")

try:
    db_url = _data.url()
    datasets = _data.datasets(db_url)
    districts = _data.districts(db_url)
except TwinError as exc:
    _data.stop_not_ready(exc)

st.markdown(
    f"Every layer of the twin, as loaded into the database: **{len(datasets)}** files into "
    f"**{datasets['table_name'].nunique()}** tables. *Rows loaded* is what the file gave; "
    "*rows in table* is what the table holds now (a table may hold several files)."
)
labels = {
    "title": "Layer",
    "table_name": "Table",
    "file": "File",
    "row_count": "Rows loaded",
    "table_rows": "Rows in table",
    "source": "Source",
    "licence": "Licence",
    "attribution": "Attribution",
    "synthetic": "Synthetic",
    "loaded_at": "Loaded at",
}
# st.table renders every cell as Markdown: the text columns from the database are escaped
text_columns = ["title", "table_name", "file", "source", "licence", "attribution"]
shown = datasets[list(labels)].assign(
    **{column: datasets[column].map(_data.md_escape) for column in text_columns}
)
st.table(
    shown.rename(columns=labels)
    .style.hide(axis="index")
    .format({"Loaded at": "{:%Y-%m-%d %H:%M %Z}", "Rows in table": "{}"})
)

derived = districts[districts["synthetic"] | districts["approximate"]]
if len(derived):
    st.subheader("Shapes derived by the project")
    names = ", ".join(derived["name"].map(_data.md_escape))
    note = _data.md_escape(derived["geometry_note"].iloc[0])
    st.markdown(
        f"**{len(derived)}** district polygons are approximate and flagged synthetic "
        f"({names}): {note}."
    )
