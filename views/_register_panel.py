"""The register page's panel of the selected asset: details, edit form, geometry, history.

Widgets are generated from the class file (:func:`twin.register.forms.form_fields`); saving
sends only the changed fields with the version the form was opened on. Every outcome (saved,
invalid values per field, a stale edit with what changed meanwhile) is shown next to the
control that caused it; the entered values stay in the widgets until saved or reloaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import shapely
import streamlit as st

from twin import TwinError
from twin._errors import InvalidValue, StaleEdit
from twin.register import store
from twin.register.catalog import AssetClass, asset_class
from twin.register.forms import (
    FIRST_DATE,
    LAST_DATE,
    FormField,
    changed_values,
    form_fields,
    new_values,
    parse_geometry,
    point_lonlat,
)
from twin.register.store import Actor
from views import _data
from views import _register as reg

#: Longest geometry text shown in full (longer ones are cut, the download has all).
WKT_SHOWN = 1_500
#: Versions the history timeline shows (the latest ones).
HISTORY_SHOWN = 100
#: Sizes (metres) of the cells of the grid that places a point by a click.
CELL_SIZES = (1, 2, 5, 10, 25, 50)
#: Number inputs of coordinates: decimals shown and step (1e-5 degrees is about 1 m).
COORD_FORMAT, COORD_STEP = "%.6f", 1e-5


# --- widgets from fields --------------------------------------------------------------------


def field_widget(field: FormField, key: str, value: object, column: Any) -> None:  # noqa: ANN401
    """Draw the widget of one field under ``key``, starting at ``value`` (a stored value)."""
    if key not in st.session_state:
        st.session_state[key] = field.shown(value)
    # labels come from the class files (configuration, not the database) and are shown as
    # written: escaping them would put the backslashes into the inputs' aria-labels
    label = field.label
    common: dict[str, Any] = {"key": key, "help": field.help or None}
    match field.kind:
        case "text" | "items":
            column.text_input(label, required=field.required, **common)
        case "choice":
            options = field.choices_for(st.session_state[key])
            column.selectbox(
                label, options, required=field.required, format_func=lambda v: v or "—", **common
            )
        case "choices":
            column.multiselect(label, field.choices_for(st.session_state[key]), **common)
        case "integer":
            low, high = field.bounds_for(st.session_state[key])
            column.number_input(
                label,
                min_value=None if low is None else int(low),
                max_value=None if high is None else int(high),
                step=1,
                required=field.required,
                **common,
            )
        case "number":
            low, high = field.bounds_for(st.session_state[key])
            column.number_input(
                label,
                min_value=low,
                max_value=high,
                step=0.1,
                format="%.2f",
                required=field.required,
                **common,
            )
        case "flag":
            column.checkbox(label, **common)
        case "date":
            column.date_input(
                label, min_value=FIRST_DATE, max_value=LAST_DATE, required=field.required, **common
            )


def _form(
    fields: tuple[FormField, ...],
    values: Mapping[str, object],
    key_of: Any,  # noqa: ANN401
    errors: Mapping[str, str],
) -> None:
    """Draw the fields in two columns, each field's error under it."""
    columns = st.columns(2)
    for i, field in enumerate(fields):
        column = columns[i % 2]
        field_widget(field, key_of(field.name), values.get(field.name), column)
        if field.name in errors:
            column.error(_data.md_escape(errors[field.name]), icon=":material/error:")


def _show_outcome(outcome: dict[str, Any] | None) -> dict[str, str]:
    """Show a saved/refused message; return the errors per field to show under the fields."""
    if not outcome:
        return {}
    kind = outcome.get("kind")
    if kind == "saved":
        st.success(_data.md_escape(outcome["text"]), icon=":material/check_circle:")
    elif kind == "info":
        st.info(_data.md_escape(outcome["text"]), icon=":material/info:")
    elif kind == "invalid":
        st.error("**Not saved:** " + _data.md_escape(outcome["text"]), icon=":material/error:")
        return dict(outcome.get("errors") or {})
    elif kind == "error":
        st.error("**Not saved:** " + _data.md_escape(outcome["text"]), icon=":material/error:")
    return {}


# --- actions (callbacks: they run before the page is drawn again) ---------------------------


def _entered(opened: dict[str, Any], fields: tuple[FormField, ...]) -> dict[str, object]:
    return {
        f.name: st.session_state[reg.edit_key(opened, f.name)]
        for f in fields
        if reg.edit_key(opened, f.name) in st.session_state
    }


def _save(db_url: str, user: Actor | None) -> None:
    opened = st.session_state[reg.OPEN]
    asset_id, version = opened["id"], opened["version"]
    fields = form_fields(store.class_of(asset_id, db_url))
    changed = changed_values(fields, opened["values"], _entered(opened, fields))
    reason = str(st.session_state.get(reg.edit_key(opened, "reason")) or "").strip() or None
    if not changed:
        reg.feedback(asset_id, "edit", kind="info", text="Nothing changed, nothing saved.")
        return
    try:
        new = store.update(asset_id, version, changed, actor=user, reason=reason, url=db_url)
    except StaleEdit as exc:
        reg.feedback(
            asset_id,
            "edit",
            kind="stale",
            text=str(exc),
            changes=exc.changes,
            mine=changed,
            version=version,
        )
    except InvalidValue as exc:
        reg.feedback(asset_id, "edit", kind="invalid", text=str(exc), errors=exc.errors)
    except TwinError as exc:
        reg.feedback(asset_id, "edit", kind="error", text=str(exc))
    else:
        reg.reopen(asset_id, db_url)
        reg.feedback(
            asset_id,
            "edit",
            kind="saved",
            text=f"Saved version {new}: changed {', '.join(changed)}.",
        )


def _rebase(db_url: str) -> None:
    """Open the current version and put the user's refused entries back into the form."""
    opened = st.session_state[reg.OPEN]
    outcome = reg.feedback_for(opened["id"], "edit") or {}
    mine: dict[str, object] = outcome.get("mine") or {}
    fresh = reg.reopen(opened["id"], db_url)
    if fresh is None:
        return
    fields = {f.name: f for f in form_fields(store.class_of(opened["id"], db_url))}
    for name, value in mine.items():
        st.session_state[reg.edit_key(fresh, name)] = fields[name].shown(value)
    reg.feedback(
        opened["id"],
        "edit",
        kind="info",
        text=f"Your entries are now on version {fresh['version']}: check them against "
        "the other change and save again.",
    )


def _save_geometry(db_url: str, user: Actor | None, how: str) -> None:
    opened = st.session_state[reg.OPEN]
    asset_id, version = opened["id"], opened["version"]
    reason = str(st.session_state.get(reg.edit_key(opened, "geometry-reason")) or "").strip()
    try:
        if how == "point":
            lon, lat = (st.session_state[k] for k in reg.point_keys(opened) or ())
            geometry = shapely.Point(float(lon), float(lat))
        else:
            upload = st.session_state.get(reg.edit_key(opened, "geometry-file"))
            text = (
                upload.getvalue().decode("utf-8", errors="replace")
                if upload is not None
                else str(st.session_state.get(reg.edit_key(opened, "geometry-text")) or "")
            )
            geometry = parse_geometry(text)
        new = store.update(
            asset_id, version, {}, actor=user, reason=reason or None, geometry=geometry, url=db_url
        )
    except StaleEdit as exc:
        reg.feedback(
            asset_id,
            "geometry",
            kind="error",
            text=f"{exc} Reload the asset (button below) and place it again.",
        )
    except TwinError as exc:
        reg.feedback(asset_id, "geometry", kind="error", text=str(exc))
    else:
        st.session_state[reg.MOVE] = False
        reg.reopen(asset_id, db_url)
        reg.feedback(
            asset_id, "geometry", kind="saved", text=f"Saved the geometry as version {new}."
        )


def _retire(db_url: str, user: Actor | None) -> None:
    opened = st.session_state[reg.OPEN]
    reason = str(st.session_state.get(reg.edit_key(opened, "retire-reason")) or "").strip()
    try:
        new = store.retire(
            opened["id"], opened["version"], actor=user, reason=reason or None, url=db_url
        )
    except TwinError as exc:
        reg.feedback(opened["id"], "retire", kind="error", text=str(exc))
    else:
        reg.reopen(opened["id"], db_url)
        reg.feedback(opened["id"], "retire", kind="saved", text=f"Retired (version {new}).")


def _restore(db_url: str, user: Actor | None, asset_id: str) -> None:
    version = st.session_state.get(f"register-restore-{asset_id}")
    reason = str(st.session_state.get(f"register-restore-reason-{asset_id}") or "").strip()
    if version is None:
        return
    try:
        new = store.restore(asset_id, int(version), actor=user, reason=reason or None, url=db_url)
    except TwinError as exc:
        reg.feedback(asset_id, "history", kind="error", text=str(exc))
    else:
        reg.reopen(asset_id, db_url)
        reg.feedback(
            asset_id, "history", kind="saved", text=f"Version {version} restored as version {new}."
        )


def _reload(db_url: str) -> None:
    opened = st.session_state[reg.OPEN]
    reg.reopen(opened["id"], db_url)
    st.session_state.pop(reg.FEEDBACK, None)


def _go_to(db_url: str, asset_id: str) -> None:
    """Select another asset (a parent or a linked one), switching the class if needed."""
    try:
        cls = store.class_of(asset_id, db_url)
    except TwinError as exc:
        st.toast(_data.md_escape(exc))
        return
    st.session_state[reg.CLASS] = cls.name
    st.session_state[reg.ASSET] = asset_id
    st.session_state.pop(reg.OPEN, None)


def _bullets(lines: list[str]) -> str:
    """Return ``lines`` as a Markdown list, each line escaped (they quote stored values)."""
    return "\n".join(f"- {_data.md_escape(line)}" for line in lines)


# --- the panel ------------------------------------------------------------------------------


def _details(cls: AssetClass, values: Mapping[str, Any], db_url: str) -> None:
    rows = [(f.label, f.shown(values.get(f.name))) for f in form_fields(cls)]
    shown = pd.DataFrame(
        {
            "field": [r[0] for r in rows],
            "value": [
                "; ".join(v) if isinstance(v, list) else "" if v is None else str(v)
                for _, v in rows
            ],
        }
    )
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(shown), 420),
        column_config={
            "field": st.column_config.TextColumn("Field", width="medium"),
            "value": st.column_config.TextColumn("Value", width="large"),
        },
    )
    parent = values.get("parent_id")
    children = values.get("children") or []
    if parent and not pd.isna(parent):
        st.button(
            f"Parent: {_data.md_escape(parent)}",
            key=f"register-parent-{values['id']}",
            on_click=_go_to,
            args=(db_url, str(parent)),
            icon=":material/north_west:",
        )
    if children:
        st.markdown(f"**Linked assets** ({len(children)}): hanging on this one")
        linked = pd.DataFrame(children, columns=["class", "id", "name", "state"])
        st.dataframe(linked, hide_index=True, width="stretch")
        chosen = st.selectbox(
            "Open a linked asset",
            linked["id"].tolist(),
            index=None,
            key=f"register-child-{values['id']}",
        )
        if chosen:
            st.button(
                "Open it",
                on_click=_go_to,
                args=(db_url, chosen),
                key=f"register-open-child-{values['id']}",
            )


def _stale_notice(outcome: dict[str, Any], db_url: str) -> None:
    st.error(
        f"**Not saved:** someone changed this asset since you opened version "
        f"{outcome['version']}. Nothing of yours is lost.",
        icon=":material/sync_problem:",
    )
    changes = outcome.get("changes") or ["it was changed (see the history)"]
    st.markdown("What changed in between:\n\n" + _bullets(changes))
    mine = outcome.get("mine") or {}
    st.markdown("Your entries, kept in the form below:")
    st.dataframe(
        pd.DataFrame({"field": list(mine), "your value": [str(v) for v in mine.values()]}),
        hide_index=True,
        width="stretch",
    )
    st.button(
        "Open the current version with my entries",
        on_click=_rebase,
        args=(db_url,),
        type="primary",
        key=f"register-rebase-{outcome['asset']}",
    )


def _edit(cls: AssetClass, opened: dict[str, Any], user: Actor, db_url: str) -> None:
    outcome = reg.feedback_for(opened["id"], "edit")
    if outcome and outcome.get("kind") == "stale":
        _stale_notice(outcome, db_url)
        errors: dict[str, str] = {}
    else:
        errors = _show_outcome(outcome)
    with st.form(f"register-edit-{opened['id']}-{opened['version']}", border=False):
        st.caption(f"Editing version {opened['version']}. Fields marked required must be filled.")
        _form(form_fields(cls), opened["values"], lambda name: reg.edit_key(opened, name), errors)
        st.text_input(
            "Reason for the change (kept in the history)", key=reg.edit_key(opened, "reason")
        )
        st.form_submit_button(
            "Save changes",
            type="primary",
            on_click=_save,
            args=(db_url, user),
            key=reg.edit_key(opened, "save"),
        )
    st.divider()
    retire_outcome = reg.feedback_for(opened["id"], "retire")
    _show_outcome(retire_outcome)
    if opened["values"].get("state") != "retired":
        with st.form(f"register-retire-{opened['id']}-{opened['version']}", border=False):
            st.text_input("Reason for retiring", key=reg.edit_key(opened, "retire-reason"))
            st.form_submit_button(
                "Retire this asset",
                on_click=_retire,
                args=(db_url, user),
                icon=":material/archive:",
                key=reg.edit_key(opened, "retire"),
            )


def _geometry(cls: AssetClass, opened: dict[str, Any], user: Actor | None, db_url: str) -> None:
    wkt = str(opened["values"].get("wkt") or "")
    st.caption(f"{cls.geometry} in longitude/latitude (EPSG:4326); stored in D96/TM.")
    st.code(wkt if len(wkt) <= WKT_SHOWN else wkt[:WKT_SHOWN] + " …", language=None)
    if user is None or not user.can_edit:
        return
    _show_outcome(reg.feedback_for(opened["id"], "geometry"))
    keys = reg.point_keys(opened)
    current = point_lonlat(wkt)
    if cls.geometry == "Point" and keys is not None:
        st.markdown("**Move the point**")
        for key, value in zip(keys, current or (None, None), strict=True):
            st.session_state.setdefault(key, value)
        left, right = st.columns(2)
        left.number_input("Longitude (°E)", key=keys[0], format=COORD_FORMAT, step=COORD_STEP)
        right.number_input("Latitude (°N)", key=keys[1], format=COORD_FORMAT, step=COORD_STEP)
        st.toggle(
            "Pick the position on the map",
            key=reg.MOVE,
            help="Shows a grid around the point: click a cell to move the point there. "
            "Larger cells reach farther.",
        )
        if st.session_state.get(reg.MOVE):
            st.select_slider(
                "Grid cell size",
                CELL_SIZES,
                value=2,
                key=reg.CELL_M,
                format_func=lambda m: f"{m} m",
            )
    st.text_input("Reason for the change", key=reg.edit_key(opened, "geometry-reason"))
    if cls.geometry == "Point" and keys is not None:
        st.button(
            "Save the position",
            type="primary",
            on_click=_save_geometry,
            args=(db_url, user, "point"),
            key=reg.edit_key(opened, "save-point"),
        )
    with st.expander("Replace the geometry (WKT or GeoJSON)"):
        st.text_area(
            "WKT or GeoJSON, longitude/latitude",
            key=reg.edit_key(opened, "geometry-text"),
            placeholder='POINT (15.6467 46.5576) or {"type": "Polygon", …}',
        )
        st.file_uploader(
            "or a GeoJSON file with one feature",
            type=["geojson", "json"],
            key=reg.edit_key(opened, "geometry-file"),
        )
        st.button(
            "Replace the geometry",
            on_click=_save_geometry,
            args=(db_url, user, "text"),
            key=reg.edit_key(opened, "save-geometry"),
        )


def _history(asset_id: str, user: Actor | None, db_url: str, *, read_only: bool) -> None:
    try:
        versions = store.history(asset_id, db_url)
    except TwinError as exc:
        st.error(_data.md_escape(exc))
        return
    _show_outcome(reg.feedback_for(asset_id, "history"))
    shown = versions[-HISTORY_SHOWN:]
    if len(versions) > len(shown):
        st.caption(
            f"The latest {len(shown)} of {len(versions)} versions "
            f"(`twin assets history {_data.md_escape(asset_id)}` lists them all)."
        )
    with st.container(height=min(120 + 90 * len(shown), 460), border=False):
        for v in reversed(shown):
            head = (
                f"**version {v.version}** · {v.operation} · "
                f"{v.valid_from.astimezone():%Y-%m-%d %H:%M:%S} · {_data.md_escape(v.changed_by)}"
            )
            reason = f"  \n*{_data.md_escape(v.reason)}*" if v.reason else ""
            changes = "\n\n" + _bullets(v.changes) if v.changes else ""
            st.markdown(head + reason + changes)
    if read_only or user is None or not user.can_edit:
        return
    latest = max(v.version for v in versions)
    older = [
        v.version for v in reversed(versions) if v.operation != "delete" and v.version != latest
    ]
    if older:
        left, right = st.columns([1, 2])
        left.selectbox("Restore version", older, key=f"register-restore-{asset_id}")
        right.text_input("Reason", key=f"register-restore-reason-{asset_id}")
        st.button(
            "Restore this version",
            on_click=_restore,
            args=(db_url, user, asset_id),
            icon=":material/history:",
            key=f"register-restore-button-{asset_id}",
        )


def panel(
    cls: AssetClass,
    opened: dict[str, Any] | None,
    as_of_row: Mapping[str, Any] | None,
    user: Actor | None,
    db_url: str,
    *,
    as_of: bool,
) -> None:
    """Draw the selected asset: details, edit form, geometry and history in tabs.

    ``opened`` is the current version the forms edit; ``as_of_row`` the asset as it was at
    the chosen past moment (then everything is read-only).
    """
    values: Mapping[str, Any] = (as_of_row or {}) if as_of else (opened or {}).get("values", {})
    asset_id = str(values.get("id") or (opened or {}).get("id") or "")
    name = values.get("name")
    title = name if isinstance(name, str) and name else asset_id
    st.markdown(f"#### {cls.display.icon} {_data.md_escape(title)}")
    version = values.get("version")
    changed_at = values.get("changed_at")
    st.caption(
        f"{_data.md_escape(asset_id)} · {_data.md_escape(cls.title)} · "
        f"{_data.md_escape(str(values.get('state') or 'no state').replace('_', ' '))} · "
        f"version {version} by {_data.md_escape(values.get('changed_by') or '?')}"
        + (f" at {pd.Timestamp(changed_at):%Y-%m-%d %H:%M}" if changed_at is not None else "")
        + (" · **synthetic** (generated by `twin synth`)" if values.get("synthetic") else "")
    )
    editable = not as_of and user is not None and user.can_edit and opened is not None
    details, edit, geometry, past = st.tabs(["Details", "Edit", "Geometry", "History"])
    with details:
        _details(cls, values, db_url)
    with edit:
        if as_of:
            st.info(
                "You are viewing the register as it was in the past: it is read-only. "
                "Clear the *As of* date to edit.",
                icon=":material/history:",
            )
        elif user is None:
            st.info(
                "Editing needs sign-in: sign in with an editor account in the sidebar.",
                icon=":material/lock:",
            )
        elif not user.can_edit:
            st.info(
                f"{_data.md_escape(user.name)} is a {user.role}: only editors and admins may edit.",
                icon=":material/lock:",
            )
        elif opened is not None:
            _edit(cls, opened, user, db_url)
    with geometry:
        if opened is not None and not as_of:
            _geometry(cls, opened, user if editable else None, db_url)
        else:
            st.code(str(values.get("wkt") or values.get("geometry") or ""), language=None)
    with past:
        _history(asset_id, user, db_url, read_only=as_of)
    if editable:
        st.button(
            "Reload the current version",
            on_click=_reload,
            args=(db_url,),
            icon=":material/refresh:",
            key=f"register-reload-{asset_id}",
            help="Drop unsaved entries and read the asset as it is now.",
        )


# --- adding ---------------------------------------------------------------------------------


def _new_key(cls: AssetClass, name: str) -> str:
    return f"register-new-{cls.name}-{name}"


def _new_geometry(cls: AssetClass) -> shapely.Geometry:
    """Return the geometry typed into the add form (WKT/GeoJSON first, else the point)."""
    text = str(st.session_state.get(_new_key(cls, "geometry-text")) or "").strip()
    if text:
        return parse_geometry(text)
    lon = st.session_state.get(_new_key(cls, "lon"))
    lat = st.session_state.get(_new_key(cls, "lat"))
    if cls.geometry != "Point":
        message = f"a {reg.noun(cls)} needs a {cls.geometry}: paste WKT or GeoJSON"
        raise InvalidValue(message, {"geometry": message})
    if lon is None or lat is None:
        message = "give the longitude and latitude, or WKT/GeoJSON"
        raise InvalidValue(message, {"geometry": message})
    return shapely.Point(float(lon), float(lat))


def _create(db_url: str, user: Actor | None, class_name: str) -> None:
    cls = asset_class(class_name)
    fields = form_fields(cls)
    values = {f.name: f.stored(st.session_state.get(_new_key(cls, f.name))) for f in fields}
    values = {k: v for k, v in values.items() if v is not None}
    reason = str(st.session_state.get(_new_key(cls, "reason")) or "").strip() or None
    try:
        geometry = _new_geometry(cls)
        new_id = store.create(cls.name, values, geometry, actor=user, reason=reason, url=db_url)
    except InvalidValue as exc:
        reg.feedback(f"new-{cls.name}", "add", kind="invalid", text=str(exc), errors=exc.errors)
    except TwinError as exc:
        reg.feedback(f"new-{cls.name}", "add", kind="error", text=str(exc))
    else:
        entries = [k for k in st.session_state if str(k).startswith(_new_key(cls, ""))]
        for key in [k for k in entries if k != _new_key(cls, "add")]:
            del st.session_state[key]
        st.session_state[reg.ASSET] = new_id
        st.session_state.pop(reg.OPEN, None)
        reg.feedback(new_id, "edit", kind="saved", text=f"Added {new_id} (version 1).")


def add_form(cls: AssetClass, user: Actor | None, db_url: str, centre: tuple[float, float]) -> None:
    """Draw the form that adds an asset of ``cls`` (editors only)."""
    if user is None or not user.can_edit:
        st.info(
            "Adding assets needs sign-in with an editor account (sidebar).", icon=":material/lock:"
        )
        return
    errors = _show_outcome(reg.feedback_for(f"new-{cls.name}", "add"))
    with st.form(f"register-new-{cls.name}", border=False):
        _form(form_fields(cls), new_values(cls), lambda name: _new_key(cls, name), errors)
        st.markdown(f"**Geometry** ({cls.geometry}, longitude/latitude)")
        if cls.geometry == "Point":
            left, right = st.columns(2)
            for key, value in zip(("lon", "lat"), centre, strict=True):
                st.session_state.setdefault(_new_key(cls, key), round(value, 6))
            left.number_input(
                "Longitude (°E)", key=_new_key(cls, "lon"), format=COORD_FORMAT, step=COORD_STEP
            )
            right.number_input(
                "Latitude (°N)", key=_new_key(cls, "lat"), format=COORD_FORMAT, step=COORD_STEP
            )
        st.text_area(
            "WKT or GeoJSON" + (" (instead of the coordinates)" if cls.geometry == "Point" else ""),
            key=_new_key(cls, "geometry-text"),
        )
        if "geometry" in errors:
            st.error(_data.md_escape(errors["geometry"]), icon=":material/error:")
        st.text_input("Reason (kept in the history)", key=_new_key(cls, "reason"))
        st.form_submit_button(
            f"Add the {reg.noun(cls)}",
            type="primary",
            on_click=_create,
            args=(db_url, user, cls.name),
            key=_new_key(cls, "add"),
        )
