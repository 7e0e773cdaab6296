"""The sensor panel's time-series charts (Altair / Vega-Lite, drawn by Streamlit offline).

One chart per datastream: the readings as a line with points (the spread of a time bucket as
a band when a long range is bucketed), readings below the detection limit as open triangles
at their limit, and the property's thresholds as dashed lines in the map's state colours
(``layers/sensors_live.toml``), each labelled. Times are shown as the city's wall-clock time.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from twin.scene.catalog import layer
from twin.sensors.live import LOCAL_ZONE, numbers

LAYER = "sensors_live"
#: Height of one chart in pixels.
CHART_HEIGHT_PX = 220
_TIME_FORMAT = "%Y-%m-%d %H:%M"
_AXIS_FORMAT = "%d.%m. %H:%M"


def _hex(state: str) -> str:
    fill = layer(LAYER).style_of(state).fill or (0, 0, 0, 255)
    return "#{:02x}{:02x}{:02x}".format(*fill[:3])


def chart_data(points: pd.DataFrame) -> pd.DataFrame:
    """Return one datastream's points as the chart reads them.

    ``time`` is the wall-clock time in :data:`LOCAL_ZONE` without a zone (the chart shows it
    as is), ``when`` the same as text for the tooltip, ``shown`` the value or, below the
    detection limit, the limit (``below`` says which).
    """
    local = points["phenomenon_time"].dt.tz_convert(LOCAL_ZONE).dt.tz_localize(None)
    below = points["value"].isna() & (points["below_detection"] > 0)
    return pd.DataFrame(
        {
            "time": local,
            "when": local.dt.strftime(_TIME_FORMAT),
            "value": points["value"],
            "min": points["min"],
            "max": points["max"],
            "count": points["count"].astype(int),
            "below": below,
            "shown": points["value"].mask(below, points["detection_limit"]),
            "text": numbers(points["value"]).mask(below, "<" + numbers(points["detection_limit"])),
        }
    )


def threshold_data(lines: pd.DataFrame) -> pd.DataFrame:
    """Return the thresholds a chart draws: ``value``, ``kind``, ``label``."""
    return pd.DataFrame(
        {"value": lines["value"].astype(float), "kind": lines["kind"].astype(str),
         "label": lines["label"].astype(str)}
    )  # fmt: skip


def series_chart(
    points: pd.DataFrame, lines: pd.DataFrame, title: str, unit: str
) -> alt.LayerChart:
    """Chart one datastream with its threshold lines.

    Parameters
    ----------
    points
        The datastream's rows of :func:`twin.sensors.series.series`.
    lines
        The thresholds to draw (rows of :func:`twin.sensors.series.thresholds`).
    title
        The chart's title (the property).
    unit
        The unit of the values (the y axis title).

    Returns
    -------
    altair.LayerChart
        The readings, their bucket spread, the below-detection marks and the thresholds.
    """
    data = chart_data(points)
    # the times are wall-clock times stored as UTC: read and label them as UTC
    labels = f"utcFormat(datum.value, '{_AXIS_FORMAT}')"
    x = alt.X("time:T", title=None, scale=alt.Scale(type="utc"),
              axis=alt.Axis(labelExpr=labels, labelAngle=0))  # fmt: skip
    y_title = unit or "value"
    tooltip = [alt.Tooltip("when:N", title="time"), alt.Tooltip("text:N", title=y_title),
               alt.Tooltip("count:Q", title="readings")]  # fmt: skip
    base = alt.Chart(data)
    layers: list[alt.Chart] = []
    if (data["count"] > 1).any():
        layers.append(base.mark_area(opacity=0.18).encode(x=x, y="min:Q", y2="max:Q"))
    numeric = base.transform_filter("isValid(datum.value)")
    layers.append(
        numeric.mark_line(point=alt.OverlayMarkDef(size=18), strokeWidth=1.6).encode(
            x=x, y=alt.Y("value:Q", title=y_title), tooltip=tooltip
        )
    )
    if data["below"].any():
        layers.append(
            base.transform_filter("datum.below").mark_point(shape="triangle-down", size=50,
                                                            filled=False, color="#555")
            .encode(x=x, y="shown:Q", tooltip=tooltip)
        )  # fmt: skip
    rules = threshold_data(lines)
    if len(rules):
        kinds = sorted(rules["kind"].unique())
        scale = alt.Scale(domain=kinds, range=[_hex(k) for k in kinds])
        colour = alt.Color("kind:N", legend=None, scale=scale)
        rule_base = alt.Chart(rules)
        layers.append(
            rule_base.mark_rule(strokeDash=[6, 4], strokeWidth=1.5).encode(
                y="value:Q", color=colour, tooltip=[alt.Tooltip("label:N", title="threshold")]
            )
        )
        layers.append(
            rule_base.mark_text(align="left", baseline="bottom", dx=4, dy=-2).encode(
                y="value:Q", x=alt.value(0), text="label:N", color=colour
            )
        )
    return alt.LayerChart(layer=layers).properties(title=title, height=CHART_HEIGHT_PX)
