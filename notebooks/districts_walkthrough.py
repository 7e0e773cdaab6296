# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # Maribor's districts: official figures against the polygons in the twin
#
# The twin stores the 11 mestne četrti (MČ) as official GURS polygons and derives approximate
# polygons for the 6 krajevne skupnosti (KS), for which no open polygons exist. This walkthrough
# compares each district's official area (GURS POV_KM2) with the area of its polygon computed in
# EPSG:3794, and shows how far the derived KS shapes are from the official figures.
#
# Run it against the twin's database (`twin db up && twin load maribor`); it is a plain Python
# script in the jupytext percent format, so it opens as a notebook in Jupyter or VS Code.

# %%
import pandas as pd

from twin import db

with db.connect() as conn:
    rows = conn.execute(
        "SELECT name, kind, approximate, official_area_km2, ST_Area(geom) / 1e6 AS area_km2 "
        "FROM twin.districts ORDER BY kind, name"
    ).fetchall()
    municipality = conn.execute(
        "SELECT official_area_km2, ST_Area(geom) / 1e6 FROM twin.municipality"
    ).fetchone()

areas = pd.DataFrame(rows, columns=["name", "kind", "approximate", "official_km2", "polygon_km2"])
areas["difference_km2"] = areas["polygon_km2"] - areas["official_km2"]
areas["difference_pct"] = 100 * areas["difference_km2"] / areas["official_km2"]
print(areas.round(2).to_string(index=False))

# %% [markdown]
# ## Totals per kind
#
# The MČ polygons are the official ones, so their areas match the register to a few hectares.
# The KS polygons tile the rest of the (coarse) municipality boundary, so their total carries the
# boundary's simplification error as well.

# %%
totals = areas.groupby("kind")[["official_km2", "polygon_km2"]].sum()
totals.loc["all"] = totals.sum()
print(totals.round(2))
official_mom, polygon_mom = municipality if municipality else (float("nan"), float("nan"))
print(f"municipality: official {official_mom:.2f} km², polygon {polygon_mom:.2f} km²")

# %% [markdown]
# ## How approximate are the KS polygons?

# %%
ks = areas[areas["kind"] == "KS"]
worst = ks.loc[ks["difference_pct"].abs().idxmax()]
print(
    f"mean absolute error of the KS areas: {ks['difference_km2'].abs().mean():.2f} km²; "
    f"largest: {worst['name']} ({worst['difference_pct']:+.1f} %)"
)
