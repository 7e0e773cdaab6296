"""The register page's sign-in, filters and selection: session state shared by its parts.

Everything the page remembers lives in ``st.session_state`` under the keys below; the
register itself is read anew from the database on every run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import geopandas as gpd
import pandas as pd
import streamlit as st

from twin import TwinError
from twin.register.catalog import AssetClass
from twin.register.forms import FormField, form_fields, point_lonlat
from twin.register.store import Actor, get_asset
from twin.register.users import authenticate
from twin.scene.register import picked_asset, picked_cell
from views import _data

#: The signed-in user (an :class:`Actor`), shared by every page that edits.
ACTOR = "twin-actor"
CLASS, ASSET, MAP, TABLE = "register-class", "register-asset", "register-map", "register-table"
TABLE_IDS, SEEN, OPEN = "register-table-ids", "register-seen", "register-open"
FEEDBACK, MOVE, CELL_M = "register-feedback", "register-move", "register-cell-m"
#: The register as it was at the end of the chosen day, unless a time is chosen.
END_OF_DAY = time(23, 59)


def noun(cls: AssetClass) -> str:
    """Return the class title as a noun inside a sentence ("street light", "EV charger")."""
    title = cls.title
    return title if title[1:2].isupper() else title[:1].lower() + title[1:]


# --- sign-in -------------------------------------------------------------------------------


def actor() -> Actor | None:
    """Return the signed-in user, if any."""
    value = st.session_state.get(ACTOR)
    return value if isinstance(value, Actor) else None


def _sign_in(db_url: str) -> None:
    name = str(st.session_state.get("register-user") or "").strip()
    password = str(st.session_state.get("register-password") or "")
    st.session_state["register-password"] = ""
    try:
        st.session_state[ACTOR] = authenticate(name, password, db_url)
    except TwinError as exc:
        st.session_state["register-sign-in-error"] = str(exc)
    else:
        st.session_state.pop("register-sign-in-error", None)


def _sign_out() -> None:
    st.session_state.pop(ACTOR, None)


def sign_in_sidebar(db_url: str) -> Actor | None:
    """Show who is signed in (and sign-out), or the sign-in form, in the sidebar."""
    user = actor()
    with st.sidebar:
        st.markdown("**Editing the register**")
        if user is not None:
            can = "may edit" if user.can_edit else "may only view"
            st.success(
                f"Signed in as **{_data.md_escape(user.name)}** ({user.role}, {can}).",
                icon=":material/person:",
            )
            st.button("Sign out", on_click=_sign_out, key="register-sign-out")
            return user
        with st.form("register-sign-in"):
            st.text_input("User name", key="register-user", autocomplete="username")
            st.text_input(
                "Password",
                type="password",
                key="register-password",
                autocomplete="current-password",
            )
            st.form_submit_button(
                "Sign in",
                on_click=_sign_in,
                args=(db_url,),
                type="primary",
                key="register-sign-in-submit",
            )
        error = st.session_state.get("register-sign-in-error")
        if error:
            st.error(_data.md_escape(error))
        st.caption(
            "Viewing needs no sign-in. Editing needs an editor or admin account "
            "(`twin users add NAME --role editor`)."
        )
    return None


# --- filters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """What the page lists: a class and its filters, now or at a past moment."""

    asset_class: AssetClass
    search: str | None
    district_id: int | None
    state: str | None
    filters: dict[str, Any]
    as_of: datetime | None

    @property
    def narrowed(self) -> bool:
        """Whether any filter narrows the class."""
        return bool(self.search or self.district_id is not None or self.state or self.filters)


def _class_changed() -> None:
    for key in (ASSET, OPEN, FEEDBACK, MOVE):
        st.session_state.pop(key, None)


def _filter_value(cls: AssetClass, name: str, column: Any) -> object:  # noqa: ANN401 - a column
    field = next(f for f in form_fields(cls) if f.name == name)
    key = f"register-filter-value-{cls.name}-{name}"
    if field.kind in ("choice", "choices"):
        return column.selectbox(
            "equals",
            [None, *field.options],
            key=key,
            format_func=lambda v: "any value" if v is None else str(v),
        )
    if field.kind == "flag":
        return column.selectbox(
            "equals",
            [None, "true", "false"],
            key=key,
            format_func=lambda v: "any value" if v is None else v,
        )
    text = column.text_input("equals", key=key, placeholder="exact value")
    return text.strip() or None


def filters(
    classes: dict[str, AssetClass], counts: dict[str, int], districts: gpd.GeoDataFrame
) -> Query:
    """Show the class chooser, search and filters; return what to list."""
    names = sorted(classes, key=lambda n: classes[n].title)

    def label(name: str) -> str:
        cls = classes[name]
        return f"{cls.display.icon} {cls.title} ({counts.get(name, 0):,})"

    top = st.columns([2.2, 2.2, 2, 1.6])
    class_name = top[0].selectbox(
        "Asset class", names, format_func=label, key=CLASS, on_change=_class_changed
    )
    cls = classes[class_name]
    search = top[1].text_input(
        "Search",
        key=f"register-search-{cls.name}",
        icon=":material/search:",
        placeholder="id, name, " + ", ".join(s for s in cls.search if s not in ("id", "name")),
    )
    names_by_id = {
        int(i): f"{n} ({k})"
        for i, n, k in zip(districts["id"], districts["name"], districts["kind"], strict=True)
    }
    district = top[2].selectbox(
        "District",
        [None, *sorted(names_by_id, key=names_by_id.get)],
        format_func=lambda d: "whole municipality" if d is None else names_by_id[d],
        key="register-district",
    )
    state = top[3].selectbox(
        "Lifecycle state",
        [None, *cls.states],
        key=f"register-state-{cls.name}",
        format_func=lambda s: "any state" if s is None else s.replace("_", " "),
    )
    second = st.columns([2.2, 2.2, 2, 1.6])
    titles = {a.name: a.title for a in cls.attributes}
    attribute = second[0].selectbox(
        "Attribute",
        [None, *titles],
        key=f"register-attr-{cls.name}",
        format_func=lambda a: "no attribute filter" if a is None else titles[a],
    )
    value = _filter_value(cls, attribute, second[1]) if attribute else None
    if not attribute:
        second[1].text_input(
            "equals",
            disabled=True,
            key="register-filter-off",
            placeholder="choose an attribute first",
        )
    day = second[2].date_input(
        "As of (date)",
        value=None,
        min_value=date(2000, 1, 1),
        max_value=date.today(),
        key="register-as-of-date",
        help="Show the register as it was then (read-only).",
    )
    moment = second[3].time_input(
        "at (time)", value=END_OF_DAY, key="register-as-of-time", step=60, disabled=day is None
    )
    as_of = datetime.combine(day, moment).astimezone() if isinstance(day, date) else None
    return Query(
        asset_class=cls,
        search=search.strip() or None,
        district_id=district,
        state=state,
        filters={attribute: value} if attribute and value is not None else {},
        as_of=as_of,
    )


# --- selection -----------------------------------------------------------------------------


def _selection(key: str) -> dict[str, Any]:
    state = st.session_state.get(key)
    if not state:
        return {}
    try:
        return dict(state["selection"])
    except (KeyError, TypeError):
        return {}


def take_selection(map_key: str, table_key: str, point_keys: tuple[str, str] | None) -> None:
    """Follow a click on the map or a row of the table (whichever changed since last run).

    A click on an asset selects it; a click on a cell of the move grid sets the position
    inputs (``point_keys``: the keys of the longitude and latitude inputs) to its centre. A
    table row is read against the ids the table showed when it was clicked, and only when
    the row selection itself changed (the table keeps it while its rows change).
    """
    seen = st.session_state.setdefault(SEEN, {"map": None, "rows": None, "cell": None})
    objects = _selection(map_key).get("objects") or {}
    on_map, cell = picked_asset(objects), picked_cell(objects)
    rows = list(_selection(table_key).get("rows") or [])
    ids = st.session_state.get(TABLE_IDS) or []
    if on_map and on_map != seen["map"]:
        st.session_state[ASSET] = on_map
    elif rows and rows != seen["rows"] and rows[0] < len(ids):
        st.session_state[ASSET] = ids[rows[0]]
    if cell and cell != seen["cell"] and point_keys is not None:
        st.session_state[point_keys[0]], st.session_state[point_keys[1]] = cell
    seen.update(map=on_map, rows=rows, cell=cell)


def grid_spec(opened: dict[str, Any] | None) -> tuple[float, float, float] | None:
    """Return where the move grid lies (the point as stored, cell size), if it is shown.

    The grid stays centred on the stored position while the user clicks in it, so that
    the clicked cell stays where it was clicked; a larger cell size reaches farther.
    """
    if not opened or "version" not in opened or not st.session_state.get(MOVE):
        return None
    point = point_lonlat(opened["values"].get("wkt"))
    if point is None:
        return None
    return point[0], point[1], float(st.session_state.get(CELL_M) or 2)


def widget_keys(query: Query) -> tuple[str, str]:
    """Return the keys of the map (one per class) and of the table (one per query).

    A new query draws a new table, so that a row selected in the old one is not read
    against the new rows (Streamlit keeps a keyed selection while the data changes). The
    map keeps its key while the move grid comes and goes: a deck whose key changes stops
    reporting clicks in Streamlit 1.67.
    """
    text = repr(
        (
            query.asset_class.name,
            query.search,
            query.district_id,
            query.state,
            sorted(query.filters.items()),
            query.as_of,
        )
    )
    digest = hashlib.blake2s(text.encode(), digest_size=6).hexdigest()
    return f"{MAP}-{query.asset_class.name}", f"{TABLE}-{digest}"


def snapshot(asset_id: str | None, db_url: str) -> dict[str, Any] | None:
    """Return the version of the selected asset the forms are open on (read when selected).

    The forms keep editing this version until it is saved or reloaded, so that an edit made
    meanwhile by someone else is refused as stale instead of silently overwritten.
    """
    if asset_id is None:
        st.session_state.pop(OPEN, None)
        return None
    current = st.session_state.get(OPEN)
    if current is None or current["id"] != asset_id:
        current = reopen(asset_id, db_url)
    return current if isinstance(current, dict) else None


def reopen(asset_id: str, db_url: str) -> dict[str, Any] | None:
    """Read the asset's current version into the forms (``None`` when it is gone)."""
    try:
        values = get_asset(asset_id, db_url)
    except TwinError as exc:
        st.session_state[OPEN] = {"id": asset_id, "missing": str(exc)}
        return None
    opened = {"id": asset_id, "version": int(values["version"]), "values": values}
    st.session_state[OPEN] = opened
    return opened


def edit_key(opened: dict[str, Any], name: str) -> str:
    """Return the widget key of field ``name`` in the forms open on ``opened``."""
    return f"register-edit-{opened['id']}-{opened['version']}-{name}"


def point_keys(opened: dict[str, Any] | None) -> tuple[str, str] | None:
    """Return the keys of the longitude and latitude inputs of the open asset."""
    if opened is None or "version" not in opened:
        return None
    return edit_key(opened, "lon"), edit_key(opened, "lat")


def feedback(asset_id: str, where: str, **message: Any) -> None:  # noqa: ANN401 - free details
    """Remember the outcome of an action, to show it next to the control that caused it."""
    st.session_state[FEEDBACK] = {"asset": asset_id, "where": where, **message}


def feedback_for(asset_id: str, where: str) -> dict[str, Any] | None:
    """Return the outcome of the last action on ``asset_id`` made at ``where``."""
    value = st.session_state.get(FEEDBACK)
    if isinstance(value, dict) and value.get("asset") == asset_id and value.get("where") == where:
        return value
    return None


def table_frame(assets: gpd.GeoDataFrame, cls: AssetClass) -> pd.DataFrame:
    """Return the columns the table shows: id, name, state, attributes, then bookkeeping."""
    columns = [
        "id",
        "name",
        "state",
        *(a.name for a in cls.attributes),
        "parent_id",
        "synthetic",
        "version",
        "changed_by",
        "changed_at",
    ]
    return pd.DataFrame(assets[[c for c in columns if c in assets.columns]])


def column_config(cls: AssetClass) -> dict[str, Any]:
    """Return the table's column titles (attribute labels with units)."""
    fields: dict[str, FormField] = {f.name: f for f in form_fields(cls)}
    config: dict[str, Any] = {
        name: st.column_config.Column(field.label) for name, field in fields.items()
    }
    config.update(
        id=st.column_config.TextColumn("id", pinned=True),
        synthetic=st.column_config.CheckboxColumn("synthetic"),
        changed_at=st.column_config.DatetimeColumn("changed at", format="YYYY-MM-DD HH:mm"),
        changed_by=st.column_config.TextColumn("changed by"),
    )
    return config
