"""ARSO hourly air-quality XML (``ones_zrak_urni_podatki``): the stations it lists."""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DefusedET
import pandas as pd
from defusedxml import DefusedXmlException

from twin._errors import DataFileError
from twin.load._read import require_file

#: Child elements of ``<postaja>`` that are not pollutant values.
_NON_POLLUTANTS = {"merilno_mesto", "datum_od", "datum_do"}


def parse(path: Path) -> Element:
    """Parse an ARSO XML file safely and return its ``<arsopodatki>`` root.

    Raises
    ------
    DataFileError
        When the file is missing, not well-formed XML, unsafe, or not an ARSO feed.
    """
    require_file(path)
    try:
        root: Element | None = DefusedET.parse(path).getroot()
    except ParseError as exc:
        line, col = exc.position
        raise DataFileError(f"{path}: malformed XML at line {line}, column {col}") from exc
    except DefusedXmlException as exc:
        raise DataFileError(f"{path}: refused unsafe XML ({type(exc).__name__})") from exc
    if root is None or root.tag != "arsopodatki":
        tag = "nothing" if root is None else f"<{root.tag}>"
        raise DataFileError(f"{path}: root element is {tag}, expected <arsopodatki>")
    return root


def read_stations(path: Path) -> pd.DataFrame:
    """Return one row per station in an ARSO feed, with its pollutants.

    Columns: ``code``, ``name``, ``altitude_m``, ``pollutants`` (comma-separated, sorted),
    ``e``, ``n`` (D96/TM metres as published by ARSO).

    Raises
    ------
    DataFileError
        When a ``<postaja>`` lacks its code or coordinates.
    """
    root = parse(path)
    rows = []
    for number, el in enumerate(root.iter("postaja"), start=1):
        attrs = el.attrib
        if not attrs.get("sifra") or not attrs.get("d96_e") or not attrs.get("d96_n"):
            raise DataFileError(f"{path}: <postaja> #{number} lacks sifra, d96_e or d96_n")
        rows.append(
            {
                "code": attrs["sifra"],
                "name": el.findtext("merilno_mesto", default="").strip() or attrs["sifra"],
                "altitude_m": attrs.get("nadm_visina"),
                "e": attrs["d96_e"],
                "n": attrs["d96_n"],
                "pollutant": [c.tag for c in el if c.tag not in _NON_POLLUTANTS],
            }
        )
    if not rows:
        raise DataFileError(f"{path}: no <postaja> elements")
    frame = pd.DataFrame(rows)
    pollutants = (
        frame.explode("pollutant")
        .dropna(subset=["pollutant"])
        .groupby("code")["pollutant"]
        .agg(lambda s: ",".join(sorted(set(s))))
    )
    stations = frame.drop(columns="pollutant").drop_duplicates("code").set_index("code")
    stations["pollutants"] = pollutants.reindex(stations.index).fillna("")
    for col in ("altitude_m", "e", "n"):
        stations[col] = pd.to_numeric(stations[col], errors="coerce")
    if stations[["e", "n"]].isna().any(axis=None):
        raise DataFileError(f"{path}: a station has non-numeric d96_e/d96_n coordinates")
    return stations.reset_index()
