"""Check and coerce attribute values against an asset class, for whole frames at once.

Forms, the CLI and imports share these rules: a value is coerced to the attribute's type
(text from a CSV becomes a number, a boolean, a date or a list) and checked against allowed
values, range and required. Problems are reported per row and field, never raised one by one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from twin.register.bulk import list_text
from twin.register.catalog import LIST_SEPARATOR, AssetClass, Attribute

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "da", "on"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "ne", "off"})


def _blank(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.isna()  # numbers and booleans have no blank text (and no text at all)
    text = values.astype("string")
    return values.isna() | text.str.strip().eq("").fillna(value=False)


def _coerce(  # noqa: PLR0911 - one return per attribute type
    attribute: Attribute, values: pd.Series
) -> tuple[pd.Series, pd.Series, str]:
    """Return coerced values, a mask of values that could not be coerced and the message."""
    blank = _blank(values)
    kind = attribute.type
    if kind in ("integer", "number"):
        numbers = pd.to_numeric(values.where(~blank), errors="coerce")
        bad = numbers.isna() & ~blank
        if kind == "integer":
            fractional = numbers.notna() & (numbers != np.round(numbers))
            return (
                numbers.round().astype("Int64").where(~fractional),
                bad | fractional,
                ("is not a whole number"),
            )
        return numbers.astype("Float64"), bad, "is not a number"
    if kind == "boolean":
        if pd.api.types.is_bool_dtype(values):
            return values.astype("boolean"), pd.Series(data=False, index=values.index), ""
        words = values.astype("string").str.strip().str.lower()
        result = pd.Series(pd.NA, index=values.index, dtype="boolean")
        result[words.isin(TRUE_WORDS).fillna(value=False)] = True
        result[words.isin(FALSE_WORDS).fillna(value=False)] = False
        return result, result.isna() & ~blank, "is not true/false"
    if kind == "date":
        dates = pd.to_datetime(values.where(~blank), errors="coerce", format="mixed")
        return (
            dates.dt.date.where(dates.notna(), None),
            dates.isna() & ~blank,
            ("is not a date (YYYY-MM-DD)"),
        )
    if kind == "list":
        text = list_text(values).astype("string").str.strip()
        text = text.str.replace(r"\s*" + LIST_SEPARATOR + r"\s*", LIST_SEPARATOR, regex=True)
        return text.where(~blank), pd.Series(data=False, index=values.index), ""
    text = values.astype("string")
    return text.where(~blank), pd.Series(data=False, index=values.index), ""


def _outside(attribute: Attribute, values: pd.Series) -> tuple[pd.Series, str]:
    """Mask of coerced values breaking allowed values or range, and the message."""
    present = values.notna()
    if attribute.allowed is not None:
        allowed = set(attribute.allowed)
        if attribute.type == "list":
            items = values[present].astype(str).str.split(LIST_SEPARATOR)
            bad = items.map(lambda xs: not set(xs) <= allowed)
        else:
            bad = ~values[present].isin(allowed)
        mask = pd.Series(data=False, index=values.index)
        mask[bad.index] = bad.astype(bool)
        return mask, "is not one of " + ", ".join(attribute.allowed)
    mask = pd.Series(data=False, index=values.index)
    parts = []
    if attribute.min is not None:
        mask |= (values < attribute.min).fillna(value=False).astype(bool)
        parts.append(f"at least {attribute.min:g}")
    if attribute.max is not None:
        mask |= (values > attribute.max).fillna(value=False).astype(bool)
        parts.append(f"at most {attribute.max:g}")
    return mask, "must be " + " and ".join(parts)


def check(
    asset_class: AssetClass, frame: pd.DataFrame, *, fill_defaults: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Coerce ``frame``'s attribute columns and report every problem.

    Parameters
    ----------
    asset_class
        Class the rows belong to.
    frame
        One row per asset; columns named after attributes (others pass through untouched).
    fill_defaults
        Fill missing values of attributes that have a default (new assets).

    Returns
    -------
    tuple of pandas.DataFrame
        The coerced frame, and the problems: columns ``row`` (index label), ``field``,
        ``reason``; empty when every value fits.
    """
    out = frame.copy()
    problems: list[pd.DataFrame] = []

    def report(mask: pd.Series, field: str, reason: str) -> None:
        if mask.any():
            rows = mask.index[mask.to_numpy(bool)]
            problems.append(pd.DataFrame({"row": rows, "field": field, "reason": reason}))

    if "state" in out.columns:
        states = out["state"].astype("string").str.strip()
        states = states.where(~_blank(out["state"]), asset_class.default_state)
        out["state"] = states
        report(~states.isin(asset_class.states), "state",
               "is not a lifecycle state (" + ", ".join(asset_class.states) + ")")  # fmt: skip
    for attribute in asset_class.attributes:
        if attribute.name not in out.columns:
            if not (fill_defaults and attribute.default is not None):
                if attribute.required and fill_defaults:
                    report(pd.Series(data=True, index=out.index), attribute.name, "is required")
                continue
            out[attribute.name] = pd.Series([None] * len(out), index=out.index, dtype=object)
        raw = out[attribute.name]
        values, bad, message = _coerce(attribute, raw)
        report(bad, attribute.name, f"{message} (got {{value}})")
        if fill_defaults and attribute.default is not None:
            default = attribute.default
            values = values.astype(object).where(values.notna(), default)
            values, _, _ = _coerce(attribute, values)
        outside, message = _outside(attribute, values.where(~bad))
        report(outside, attribute.name, f"{message} (got {{value}})")
        if attribute.required:
            report(values.isna() & ~bad, attribute.name, "is required")
        out[attribute.name] = values
    if not problems:
        return out, pd.DataFrame(columns=["row", "field", "reason"])
    found = pd.concat(problems, ignore_index=True)
    raw_values = [
        frame.at[r, f] if f in frame.columns else None
        for r, f in zip(found["row"], found["field"], strict=True)
    ]
    found["reason"] = [
        reason.replace("{value}", _shown(value))
        for reason, value in zip(found["reason"], raw_values, strict=True)
    ]
    return out, found


def check_one(
    asset_class: AssetClass, values: dict[str, object], *, new: bool
) -> tuple[dict[str, object], dict[str, str]]:
    """Check the values of one asset (a form); return coerced values and field → problem."""
    frame = pd.DataFrame([values])
    coerced, problems = check(asset_class, frame, fill_defaults=new)
    errors = {str(f): str(r) for f, r in zip(problems["field"], problems["reason"], strict=True)}
    row = {str(k): (None if _is_missing(v) else v) for k, v in coerced.iloc[0].to_dict().items()}
    return row, errors


def _shown(value: object) -> str:
    """Render a rejected value for a message: text quoted, numbers plain."""
    if hasattr(value, "item"):
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


def _is_missing(value: object) -> bool:
    if isinstance(value, list | tuple | dict):
        return False
    return value is None or bool(pd.isna(value))  # type: ignore[call-overload]
