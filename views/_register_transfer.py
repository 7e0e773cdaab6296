"""The register page's import (check first, then confirm) and export of a class.

Both call the register's own file functions (:func:`twin.register.importer.import_file`,
:func:`twin.register.exporter.export_file`), so a file imported here is checked, matched and
recorded exactly as ``twin assets import`` does it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from twin import TwinError
from twin.register.catalog import AssetClass
from twin.register.exporter import export_file
from twin.register.importer import ImportRejected, import_file
from twin.register.store import Actor
from views import _data
from views import _register as reg

#: Export formats offered for download: label → (extension, MIME type).
FORMATS = {
    "GeoPackage": (".gpkg", "application/geopackage+sqlite3"),
    "GeoJSON": (".geojson", "application/geo+json"),
    "CSV": (".csv", "text/csv"),
}
#: File types an import reads (a Shapefile as a .zip of its parts).
IMPORT_TYPES = ["gpkg", "geojson", "json", "csv", "zip", "parquet", "fgb"]
CHECKED = "register-import-checked"


def _exporter(
    class_name: str, extension: str, as_of: datetime | None, db_url: str
) -> Callable[[], bytes]:
    """Return a function writing the class to a file and returning its bytes (run on click)."""

    def export() -> bytes:
        with tempfile.TemporaryDirectory(prefix="twin-export-") as folder:
            path = Path(folder) / f"{class_name}{extension}"
            export_file(class_name, path, as_of=as_of, url=db_url)
            return path.read_bytes()

    return export


def export_section(cls: AssetClass, as_of: datetime | None, db_url: str) -> None:
    """Offer the whole class (as of the chosen moment) as a file to download."""
    st.markdown(
        f"**Export** every {reg.noun(cls)}"
        + (f" as it was at {as_of:%Y-%m-%d %H:%M}" if as_of else "")
    )
    choice = st.radio("Format", list(FORMATS), horizontal=True, key="register-export-format")
    extension, mime = FORMATS[choice]
    stamp = f"_{as_of:%Y%m%dT%H%M}" if as_of else ""
    st.download_button(
        f"Download {choice}",
        data=_exporter(cls.name, extension, as_of, db_url),
        file_name=f"{cls.name}{stamp}{extension}",
        mime=mime,
        icon=":material/download:",
        key="register-export",
        on_click="ignore",
    )


def _run_import(cls: AssetClass, db_url: str, user: Actor | None, *, dry_run: bool) -> None:
    upload = st.session_state.get("register-import-file")
    if upload is None:
        return
    crs = str(st.session_state.get("register-import-crs") or "").strip() or None
    fix = bool(st.session_state.get("register-import-fix"))
    reason = str(st.session_state.get("register-import-reason") or "").strip() or None
    outcome: dict[str, Any] = {"file_id": upload.file_id, "class": cls.name, "dry_run": dry_run}
    with tempfile.TemporaryDirectory(prefix="twin-import-") as folder:
        path = Path(folder) / Path(upload.name).name
        path.write_bytes(upload.getvalue())
        try:
            report = import_file(
                path,
                cls.name,
                dry_run=dry_run,
                crs=crs,
                fix=fix,
                actor=user,
                reason=reason,
                url=db_url,
            )
        except ImportRejected as exc:
            outcome.update(report=exc.report.as_dict(), error=str(exc).replace(folder, ""))
        except TwinError as exc:
            outcome.update(report=None, error=str(exc).replace(folder + "/", ""))
        else:
            outcome.update(report=report.as_dict(), error=None)
    st.session_state[CHECKED] = outcome


def _report(report: dict[str, Any]) -> None:
    columns = st.columns(5)
    for column, (label, key) in zip(
        columns,
        [
            ("Rows", "rows"),
            ("New", "new"),
            ("Changed", "changed"),
            ("Unchanged", "unchanged"),
            ("Rejected", "rejected"),
        ],
        strict=True,
    ):
        column.metric(label, f"{report[key]:,}")
    label = report.get("label") or "row"
    for title, key in (("Rejected rows", "problems"), ("Repaired", "repairs")):
        rows = report.get(key) or []
        if rows:
            st.markdown(f"**{title}**")
            frame = pd.DataFrame(rows).rename(columns={"row": label})
            st.dataframe(frame, hide_index=True, width="stretch")
    for note in report.get("notes") or []:
        st.caption(_data.md_escape(note))
    st.caption(f"Coordinates read as {_data.md_escape(report.get('crs') or '?')}.")


def import_section(cls: AssetClass, user: Actor | None, db_url: str) -> None:
    """Upload a file, check it (dry run, no sign-in needed), then import it (editors)."""
    st.markdown(
        f"**Import** a file into {reg.noun(cls)}: every row is checked first; "
        "one rejected row and nothing is imported."
    )
    upload = st.file_uploader(
        "File (GeoPackage, GeoJSON, CSV, zipped Shapefile, GeoParquet, FlatGeobuf)",
        type=IMPORT_TYPES,
        key="register-import-file",
    )
    left, middle = st.columns([1, 1])
    left.text_input(
        "CRS, only if the file has none", key="register-import-crs", placeholder="e.g. 3794 or 4326"
    )
    middle.checkbox("Repair invalid geometries", key="register-import-fix")
    st.text_input("Reason (kept in the history)", key="register-import-reason")
    st.button(
        "Check the file (dry run)",
        on_click=_run_import,
        args=(cls, db_url, user),
        kwargs={"dry_run": True},
        disabled=upload is None,
        key="register-import-check",
    )
    checked = st.session_state.get(CHECKED)
    if not checked or upload is None or checked["file_id"] != upload.file_id:
        return
    if checked["class"] != cls.name:
        return
    report = checked.get("report")
    if checked.get("error"):
        st.error(_data.md_escape(checked["error"]), icon=":material/error:")
    elif not checked["dry_run"]:
        st.success(
            f"Imported: {report['new']:,} new, {report['changed']:,} changed, "
            f"{report['unchanged']:,} unchanged.",
            icon=":material/check_circle:",
        )
    if report:
        _report(report)
    if not checked["dry_run"] or checked.get("error") or not report:
        return
    if report["new"] + report["changed"] == 0:
        st.info("The file changes nothing in the register.")
    elif user is None or not user.can_edit:
        st.info(
            "Importing needs sign-in with an editor account; the check needs none.",
            icon=":material/lock:",
        )
    else:
        st.button(
            f"Import: {report['new']:,} new and {report['changed']:,} changed",
            type="primary",
            on_click=_run_import,
            args=(cls, db_url, user),
            kwargs={"dry_run": False},
            key="register-import-confirm",
        )
