"""The worked analyses in notebooks/ run against the loaded database and give real figures."""

from __future__ import annotations

import runpy

import pytest
from conftest import REPO


@pytest.mark.usefixtures("loaded")
def test_districts_walkthrough_runs(capsys) -> None:
    result = runpy.run_path(str(REPO / "notebooks" / "districts_walkthrough.py"))
    areas = result["areas"]
    totals = result["totals"]
    assert len(areas) == 17
    mc = areas[areas["kind"] == "MC"]
    assert mc["difference_km2"].abs().max() < 0.01  # official polygons match the register
    assert totals.loc["MC", "official_km2"] == pytest.approx(56.11, abs=0.01)
    assert totals.loc["KS", "polygon_km2"] == pytest.approx(
        totals.loc["KS", "official_km2"], rel=0.05
    )
    assert "largest:" in capsys.readouterr().out
