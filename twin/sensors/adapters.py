"""Ingest adapters: one base class, one subclass per input format.

An adapter reads its input into a frame of readings (see :mod:`twin.sensors.observations`)
and may register the sensors it brings (ARSO stations); :meth:`Adapter.run` stores everything
in one transaction, so a failed ingest leaves the database unchanged.
"""

from __future__ import annotations

import io
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DefusedET
import numpy as np
import pandas as pd
import psycopg
from defusedxml import DefusedXmlException

from twin._errors import DataFileError
from twin.db._sql import sql_text
from twin.db.engine import connect
from twin.sensors.observations import IngestReport, ingest

LOCAL_ZONE = "Europe/Ljubljana"


class Adapter(ABC):
    """Reads one input into readings and stores them."""

    #: Name recorded as the observations' source and the register changes' author.
    source: str = "ingest"

    @abstractmethod
    def readings(self) -> pd.DataFrame:
        """Return the input's readings (columns of :func:`twin.sensors.observations.ingest`)."""

    def prepare(self, conn: psycopg.Connection) -> None:  # noqa: B027 - optional hook
        """Register what the input brings before its readings are stored (default: nothing)."""

    def run(self, url: str | None = None) -> IngestReport:
        """Read the input and store it in one transaction; return the report.

        Raises
        ------
        DataFileError
            When the input cannot be read at all (nothing is stored then).
        """
        frame = self.readings()
        with connect(url) as conn, conn.transaction():
            conn.execute(
                "SELECT set_config('twin.user', %s, true), set_config('twin.reason', %s, true)",
                (f"twin ingest ({self.source})", "sensor registered by an ingest"),
            )
            self.prepare(conn)
            report = ingest(conn, frame, self.source)
        report.received += self.skipped
        return report

    #: Input items that carry no reading at all (e.g. ARSO's empty tags); counted as received.
    skipped: int = 0


#: ARSO element names of the pollutants and the twin's property ids.
ARSO_PROPERTIES = {"no2": "no2", "pm10": "pm10", "pm2.5": "pm2.5", "o3": "o3", "so2": "so2",
                   "co": "co", "benzen": "benzene"}  # fmt: skip
_ARSO_META = {"merilno_mesto", "datum_od", "datum_do"}


class ArsoAdapter(Adapter):
    """ARSO's hourly air-quality feed ``ones_zrak_urni_podatki`` (XML, file or URL).

    Each ``<postaja>`` is one station and hour (``datum_od``-``datum_do``, local time); each
    pollutant element one reading. ``<pm2.5>&lt;2</pm2.5>`` is below the detection limit 2: it
    is stored with quality ``below_detection``, no value and ``detection_limit`` 2, never as 2.
    An empty element (no measurement) stores nothing and is counted as skipped. Stations not in
    the register become ``sensor`` assets (kind air_quality, source ARSO) at their D96/TM
    coordinates, their code (``E407``) as ``station_code``.
    """

    source = "ARSO"

    def __init__(self, location: str | Path) -> None:
        self.location = str(location)
        self.stations = pd.DataFrame()

    def _root(self) -> Element:
        name = self.location
        try:
            if name.startswith(("http://", "https://")):
                with urllib.request.urlopen(name, timeout=30) as response:  # noqa: S310 - the user's URL
                    data = response.read()
                root = DefusedET.parse(io.BytesIO(data)).getroot()
            else:
                path = Path(name)
                if not path.is_file():
                    raise DataFileError(f"{path}: file not found")
                root = DefusedET.parse(path).getroot()
        except ParseError as exc:
            line, col = exc.position
            raise DataFileError(f"{name}: malformed XML at line {line}, column {col}") from exc
        except DefusedXmlException as exc:
            raise DataFileError(f"{name}: refused unsafe XML ({type(exc).__name__})") from exc
        except OSError as exc:
            raise DataFileError(f"{name}: cannot read it ({exc})") from exc
        if root is None or root.tag != "arsopodatki":
            tag = "nothing" if root is None else f"<{root.tag}>"
            raise DataFileError(f"{name}: root element is {tag}, expected <arsopodatki>")
        return root

    def readings(self) -> pd.DataFrame:
        """Parse the feed: one row per station, hour and non-empty pollutant element."""
        root = self._root()
        stations, rows = [], []
        for number, el in enumerate(root.iter("postaja"), start=1):
            code = el.get("sifra", "").strip()
            if not code or not el.get("d96_e") or not el.get("d96_n"):
                raise DataFileError(
                    f"{self.location}: <postaja> #{number} lacks sifra, d96_e or d96_n"
                )
            name = (el.findtext("merilno_mesto") or code).strip()
            stations.append({"code": code, "name": name, "e": el.get("d96_e"),
                             "n": el.get("d96_n"), "lon": el.get("wgs84_dolzina"),
                             "lat": el.get("wgs84_sirina")})  # fmt: skip
            start, end = el.findtext("datum_od"), el.findtext("datum_do")
            for child in el:
                if child.tag in _ARSO_META:
                    continue
                text = (child.text or "").strip()
                if not text:
                    self.skipped += 1
                    continue
                rows.append({"sensor": code, "tag": child.tag, "text": text, "start": start,
                             "end": end, "station_no": number})  # fmt: skip
        if not stations:
            raise DataFileError(f"{self.location}: no <postaja> elements")
        self.stations = pd.DataFrame(stations).drop_duplicates("code").reset_index(drop=True)
        coords = self.stations[["e", "n", "lon", "lat"]].apply(pd.to_numeric, errors="coerce")
        if coords[["e", "n"]].isna().any(axis=None):
            raise DataFileError(f"{self.location}: a station has non-numeric d96_e/d96_n")
        self.stations[["e", "n", "lon", "lat"]] = coords
        return self._frame(pd.DataFrame(rows))

    def _frame(self, rows: pd.DataFrame) -> pd.DataFrame:
        if rows.empty:
            return pd.DataFrame(
                columns=["sensor", "property", "phenomenon_time", "value", "quality"]
            )
        below = rows["text"].str.startswith("<")
        number = pd.to_numeric(rows["text"].str.lstrip("<").str.replace(",", ".", regex=False),
                               errors="coerce")  # fmt: skip

        def local(column: str) -> pd.Series:
            times = pd.to_datetime(rows[column], format="%Y-%m-%d %H:%M", errors="coerce")
            return times.dt.tz_localize(LOCAL_ZONE, ambiguous="NaT", nonexistent="NaT")

        return pd.DataFrame(
            {
                "sensor": rows["sensor"],
                "property": rows["tag"].map(ARSO_PROPERTIES).fillna(rows["tag"]),
                "phenomenon_time": local("start"),
                "phenomenon_end": local("end"),
                "value": number.where(~below),
                "quality": np.where(below, "below_detection", "ok"),
                "detection_limit": number.where(below),
                "payload": "<postaja #" + rows["station_no"].astype(str) + " " + rows["sensor"]
                + "> <" + rows["tag"] + ">" + rows["text"] + "</" + rows["tag"] + ">",
            }
        )  # fmt: skip

    def prepare(self, conn: psycopg.Connection) -> None:
        """Add the feed's stations that the register does not know as ARSO sensors."""
        for station in self.stations.itertuples():
            conn.execute(
                sql_text("sensors_register_arso"),
                {"code": station.code, "name": station.name, "e": station.e, "n": station.n},
            )


class CsvAdapter(Adapter):
    """Readings from a CSV file with the header ``sensor,property,time,value[,unit,end,quality]``.

    ``sensor`` is a register id or a station code, ``property`` an observed-property id,
    ``time`` an ISO 8601 time **with** its zone (``2026-11-26T14:00:00+01:00``); ``value`` a
    number, or ``<L`` for a value below the detection limit ``L``; ``unit`` if given must be the
    property's unit. Rows that cannot be stored go to the dead letters with their line number.
    """

    source = "csv"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.source = f"csv:{path.name}"

    def readings(self) -> pd.DataFrame:
        """Parse the CSV (every column as text; types are checked by the ingest path)."""
        if not self.path.is_file():
            raise DataFileError(f"{self.path}: file not found")
        try:
            raw = pd.read_csv(self.path, dtype=str, keep_default_na=False, skipinitialspace=True)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise DataFileError(f"{self.path}: not a readable CSV ({exc})") from exc
        missing = {"sensor", "property", "time", "value"} - set(raw.columns)
        if missing:
            raise DataFileError(
                f"{self.path}: missing column(s) {', '.join(sorted(missing))}; the header must be "
                "sensor,property,time,value[,unit,end,quality]"
            )
        text = raw["value"].str.strip()
        below = text.str.startswith("<")
        number = pd.to_numeric(text.str.lstrip("<"), errors="coerce")
        quality = pd.Series(np.where(below, "below_detection", "ok"), index=raw.index)
        if "quality" in raw.columns:
            quality = raw["quality"].where(raw["quality"] != "", quality)
        frame = pd.DataFrame(
            {
                "sensor": raw["sensor"],
                "property": raw["property"],
                "phenomenon_time": parse_times(raw["time"]),
                "value": number.where(~below),
                "quality": quality,
                "detection_limit": number.where(below),
                "payload": "line " + (raw.index + 2).astype(str) + ": "
                + raw.astype(str).agg(",".join, axis=1),
            }
        )  # fmt: skip
        if "unit" in raw.columns:
            frame["unit"] = raw["unit"]
        if "end" in raw.columns:
            frame["phenomenon_end"] = parse_times(raw["end"])
        return frame


def parse_times(text: pd.Series) -> pd.Series:
    """Parse ISO 8601 times; a time without a zone stays naive (so it is refused as such).

    Returns a timezone-aware UTC series when every non-empty time has a zone, else the naive
    parse (the ingest path then rejects those rows with "timestamp without time zone").
    """
    text = text.astype("string").str.strip()
    zoned = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True).fillna(value=False)
    aware = pd.to_datetime(text.where(zoned), utc=True, errors="coerce", format="ISO8601")
    if zoned.all():
        return aware
    naive = pd.to_datetime(text.where(~zoned), errors="coerce", format="ISO8601")
    # Mixed input: keep the aware ones aware; the naive ones become a marker the ingest refuses.
    result = pd.Series(aware.astype(object), index=text.index)
    result[~zoned] = naive[~zoned].astype(object)
    return result
