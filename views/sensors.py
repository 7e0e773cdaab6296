from datetime import date, datetime, time, timedelta

import geopandas as gpd
import pandas as pd
import pydeck as pdk
import streamlit as st

from twin import TwinError
from twin.scene import MAP_HEIGHT_PX
from twin.sensors import alerts, live, series
from twin.sensors.charts import series_chart
from twin.sensors.deck import SENSORS, context_layers, legend_html, sensor_deck
from views import _data

#: Session keys: the sensor of the panel (its selectbox), a sensor picked on the map or in
#: the table (applied before the selectbox is drawn), and the last selections acted on.
SENSOR, PICK, SEEN = "sensors-chosen", "sensors-pick", "sensors-seen"
MAP_KEY, TABLE_KEY, RANGE_KEY, DAYS_KEY = (
    "sensors-map",
    "sensors-table",
    "sensors-range",
    "sensors-days",
)
#: How far back the alerts look.
ALERT_WINDOW = timedelta(days=7)
CUSTOM = "Custom"
CHARTS_PER_ROW, METRICS_PER_ROW = 2, 6
NO_READINGS = (
    "No sensor has reported yet. Ingest the ARSO sample with "
    "`twin ingest arso gis_data/air_quality_arso_sample.xml`, readings from a file with "
    "`twin ingest csv FILE`, or start `make run SIM_RATE=20` to simulate the synthetic sensors."
)


@st.cache_resource(ttl=_data.TTL, show_spinner=False)
def _context(
    db_url: str,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[pdk.Layer]]:
    """Return the municipality, the roads and the map's context layers, built once."""
    municipality, roads = _data.municipality(db_url), _data.roads(db_url)
    return municipality, roads, context_layers(municipality, roads)


def _pick(sensor_id: str) -> None:
    """Open ``sensor_id`` in the panel: remember it and rerun the whole page."""
    st.session_state[PICK] = sensor_id
    st.rerun(scope="app")


def _take_selection(map_ids: tuple[str, ...], table_ids: tuple[str, ...]) -> None:
    """Open the sensor newly selected on the map or in the table (a kept selection is not new)."""
    seen = st.session_state.setdefault(SEEN, {"map": (), "table": ()})
    for source, ids in (("map", map_ids), ("table", table_ids)):
        if ids != seen[source]:
            seen[source] = ids
            if ids:
                _pick(ids[0])


def _alerts(now: pd.Timestamp) -> None:
    since = (now - ALERT_WINDOW).to_pydatetime()
    found = alerts.exceedances(since, _data.url())
    dead, reasons = alerts.dead_letters(since, _data.url())
    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"**Threshold exceedances** (periods of the last {ALERT_WINDOW.days} days)")
        if found.empty:
            st.caption("No exceedance in this period.")
        else:
            shown = found.assign(
                period_start=pd.to_datetime(found["period_start"], utc=True).dt.tz_convert(
                    live.LOCAL_ZONE
                ),
                synthetic=found["synthetic"].map({True: "synthetic", False: ""}),
            )
            st.dataframe(
                shown[["period_start", "external_id", "name", "property", "what", "value",
                       "threshold", "unit", "kind", "synthetic"]],
                hide_index=True,
                width="stretch",
                column_config={
                    "period_start": st.column_config.DatetimeColumn(
                        "From", format="YYYY-MM-DD HH:mm"
                    ),
                    "external_id": "Sensor", "name": "Name", "property": "Property",
                    "what": "Of the",
                    "value": st.column_config.NumberColumn("Value", format="%.1f"),
                    "threshold": st.column_config.NumberColumn("Threshold", format="%g"),
                    "unit": "Unit", "kind": "Kind", "synthetic": "Synthetic",
                },
            )  # fmt: skip
            st.caption(f"The newest {alerts.EXCEEDANCE_LIMIT} at most.")
    with right:
        st.metric(f"Dead letters, last {ALERT_WINDOW.days} days", f"{dead:,}")
        if dead:
            st.dataframe(
                reasons[["count", "source", "reason"]],
                hide_index=True,
                width="stretch",
                column_config={"count": "Readings", "source": "Source", "reason": "Reason"},
            )
            st.caption("Readings that could not be stored, by reason (`twin.dead_letters`).")


@st.fragment(run_every=live.REFRESH_S)
def live_view() -> None:
    """Draw the live part (counts, map, streams, alerts), read anew every few seconds."""
    now = pd.Timestamp.now(tz="UTC")
    try:
        latest = live.read_latest(_data.url())
    except TwinError as exc:
        st.error(f"**Cannot read the sensors:** {_data.md_escape(exc)}", icon=":material/database:")
        return
    if latest.empty:
        st.info(NO_READINGS)
        return
    streams = live.streams(latest, now)
    sensors = live.sensors(streams)
    counts = live.state_counts(sensors)
    exceeded = sum(counts[s] for s in ("alert", "limit", "information", "target"))
    cols = st.columns(4)
    cols[0].metric(
        "Sensors reporting", f"{len(sensors) - counts[live.STALE]:,} of {len(sensors):,}"
    )
    cols[1].metric("Datastreams", f"{len(streams):,}")
    cols[2].metric("Stale datastreams", f"{int(streams['stale'].sum()):,}")
    cols[3].metric("Sensors above a threshold", f"{exceeded:,}")

    map_column, legend_column = st.columns([3, 1])
    with map_column:
        event = st.pydeck_chart(
            sensor_deck(sensors, *_context(_data.url())),
            height=MAP_HEIGHT_PX,
            on_select="rerun",
            selection_mode="single-object",
            key=MAP_KEY,
            alt="Map of the sensors coloured by their latest values against the thresholds",
        )
    with legend_column:
        st.html(legend_html(counts))
        st.caption(
            f"Latest values as of {now.tz_convert(live.LOCAL_ZONE):%H:%M:%S} "
            f"({live.LOCAL_ZONE}), refreshed every {live.REFRESH_S} s. A sensor takes the most "
            "severe state of its fresh datastreams; daily and 8-hour thresholds are compared "
            "with the newest value here, the alerts below use the proper means."
        )

    table = streams.assign(
        synthetic=streams["synthetic"].map({True: "synthetic", False: ""}),
        state=streams["state"].str.replace("_", " "),
    )
    picked = st.dataframe(
        table[["external_id", "name", "kind", "property", "unit", "value_text", "local_time",
               "freshness", "state", "synthetic", "source"]],
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=TABLE_KEY,
        column_config={
            "external_id": "Sensor", "name": "Name", "kind": "Kind", "property": "Property",
            "unit": "Unit",
            "value_text": "Latest", "local_time": st.column_config.DatetimeColumn(
                "Time", format="YYYY-MM-DD HH:mm:ss"),
            "freshness": "Freshness", "state": "State", "synthetic": "Synthetic",
            "source": "Source",
        },
    )  # fmt: skip
    synthetic = int(sensors["synthetic"].sum())
    st.caption(
        f"{len(streams):,} datastreams of {len(sensors):,} sensors; select a row, or click a "
        "sensor on the map, to chart it. "
        + (f"{synthetic:,} {'sensor is' if synthetic == 1 else 'sensors are'} synthetic: "
           "generated by `twin synth`, their readings simulated by `twin simulate`, not "
           "measured." if synthetic else "")
    )  # fmt: skip
    _alerts(now)

    objects = (event.selection.objects or {}).get(SENSORS, []) if event else []
    rows = picked.selection.rows if picked else []
    _take_selection(
        tuple(str(o.get("sensor_id")) for o in objects),
        tuple(str(table["sensor_id"].iloc[r]) for r in rows if r < len(table)),
    )


@st.cache_data(ttl=live.REFRESH_S, show_spinner=False)
def _choices(db_url: str) -> pd.DataFrame:
    """Return every sensor with a reading: its label for the chooser and newest reading."""
    latest = live.read_latest(db_url)
    sensors = live.sensors(live.streams(latest, pd.Timestamp.now(tz="UTC")))
    return sensors.set_index("sensor_id")[["tt_title", "newest"]]


def _custom_range(days: tuple[date, ...]) -> tuple[datetime, datetime] | None:
    """Return the local days ``days`` (from, to; both included) as a UTC range."""
    if len(days) != 2:  # noqa: PLR2004 - a from and a to
        return None
    start = pd.Timestamp(datetime.combine(days[0], time()), tz=live.LOCAL_ZONE)
    end = pd.Timestamp(datetime.combine(days[1] + timedelta(days=1), time()), tz=live.LOCAL_ZONE)
    return start.to_pydatetime(), end.to_pydatetime()


@st.fragment(run_every=live.VALUES_REFRESH_S)
def latest_values(sensor_id: str) -> None:
    """Show the sensor's newest value of each datastream, its state and age, live."""
    now = pd.Timestamp.now(tz="UTC")
    try:
        latest = live.read_latest(_data.url())
    except TwinError as exc:
        st.error(f"**Cannot read the sensors:** {_data.md_escape(exc)}")
        return
    mine = live.streams(latest[latest["sensor_id"] == sensor_id], now)
    if mine.empty:
        return
    first = mine.iloc[0]
    st.caption(
        _data.md_escape(
            f"{first['kind']} · source: {first['source']}"
            + (" · synthetic sensor: generated by twin synth, readings simulated"
               if bool(first["synthetic"]) else "")
        )
    )  # fmt: skip
    rows = list(mine.sort_values("property").itertuples())
    columns = [c for _ in range(0, len(rows), METRICS_PER_ROW) for c in st.columns(METRICS_PER_ROW)]
    for column, row in zip(columns, rows, strict=False):
        column.metric(
            _data.md_escape(row.property),
            f"{row.value_text} {row.unit}",
            help=_data.md_escape(f"{row.value_state}; {row.freshness}"),
        )
        column.caption(_data.md_escape(f"{row.value_state} · {row.freshness}"))


@st.fragment(run_every=live.CHART_REFRESH_S)
def charts(sensor_id: str, span: str, days: tuple[date, ...]) -> None:
    """Chart the chosen sensor per datastream with its thresholds, refreshed live."""
    now = pd.Timestamp.now(tz="UTC").to_pydatetime()
    db_url = _data.url()
    try:
        newest = series.newest_reading(sensor_id, db_url)
        if span in series.RANGES:
            since, until = series.window(series.RANGES[span], newest, now)
        else:
            chosen = _custom_range(days)
            if chosen is None:
                st.info("Choose the first and the last day of the range.")
                return
            since, until = chosen
        points = series.series(sensor_id, since, until, db_url)
        lines = series.thresholds(sorted(points["property"].unique()), db_url)
    except TwinError as exc:
        st.error(f"**Cannot read the readings:** {_data.md_escape(exc)}")
        return
    zone = live.LOCAL_ZONE
    newest_text = (
        f"newest reading {pd.Timestamp(newest).tz_convert(zone):%Y-%m-%d %H:%M}"
        if newest
        else "no reading yet"
    )
    st.caption(
        _data.md_escape(
            f"Readings from {pd.Timestamp(since).tz_convert(zone):%Y-%m-%d %H:%M} to "
            f"{pd.Timestamp(until).tz_convert(zone):%Y-%m-%d %H:%M} ({zone}); {newest_text}. "
            f"Long ranges are averaged into at most {series.MAX_POINTS} points per property "
            "(the band shows the spread); dashed lines are the EU thresholds. The charts "
            f"refresh every {live.CHART_REFRESH_S} s."
        )
    )
    if points.empty:
        st.info("No readings in this range.")
        return
    groups = list(points.groupby("property", sort=True))
    for start in range(0, len(groups), CHARTS_PER_ROW):
        for column, (prop, part) in zip(
            st.columns(CHARTS_PER_ROW), groups[start : start + CHARTS_PER_ROW], strict=False
        ):
            own = lines[lines["property"] == prop]
            shown = series.drawn(own, float(part["max"].max()))
            with column:
                st.altair_chart(
                    series_chart(part, own[shown], str(prop), str(part["unit"].iloc[0])),
                    width="stretch",
                    key=f"sensors-chart-{prop}",
                )
                notes = []
                if own.empty:
                    notes.append(f"No EU threshold for {prop}.")
                if (~shown).any():
                    notes.append("Above the chart: " + "; ".join(own.loc[~shown, "label"]) + ".")
                if notes:
                    st.caption(_data.md_escape(" ".join(notes)))


st.subheader("Live sensors: latest values, alerts and time series")
st.caption(
    "Every register sensor with a reading, coloured by its newest values against the EU "
    "air-quality thresholds (Directive 2008/50/EC). Readings arrive over MQTT, the HTTP API, "
    "ARSO XML and CSV (see the README, *Live sensors*)."
)
try:
    _data.municipality(_data.url())
    _data.roads(_data.url())
except TwinError as exc:
    _data.stop_not_ready(exc)

if PICK in st.session_state:
    st.session_state[SENSOR] = st.session_state.pop(PICK)

live_view()

st.divider()
try:
    choices = _choices(_data.url())
except TwinError as exc:
    _data.stop_not_ready(exc)
labels = dict(zip(choices.index.astype(str), choices["tt_title"].astype(str), strict=True))
if labels:
    if st.session_state.get(SENSOR) not in labels:
        st.session_state[SENSOR] = next(iter(labels))
    chooser, ranges, custom = st.columns([3, 2, 2])
    with chooser:
        sensor_id = str(
            st.selectbox("Sensor", list(labels), format_func=labels.__getitem__, key=SENSOR)
        )
    with ranges:
        span = st.segmented_control(
            "Range", [*series.RANGES, CUSTOM], default=next(iter(series.RANGES)), required=True,
            key=RANGE_KEY,
        )  # fmt: skip
    days: tuple[date, ...] = ()
    if span == CUSTOM:
        # the week up to the sensor's newest reading, at first
        last = pd.Timestamp(choices.loc[sensor_id, "newest"]).tz_convert(live.LOCAL_ZONE).date()
        with custom:
            days = tuple(
                st.date_input("Days (local)", value=(last - timedelta(days=6), last), key=DAYS_KEY)
            )
    st.markdown(f"#### {_data.md_escape(labels[sensor_id])}")
    latest_values(sensor_id)
    charts(sensor_id, str(span), days)
