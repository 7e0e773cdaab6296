"""The map-layer catalog (``layers/*.toml``): shipped layers load, bad files are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO

from twin import ConfigError
from twin.scene.catalog import catalog, read_layer

GOOD = """
id = "{id}"
title = "Street lights"
table = "assets"
geometry = "point"
[style]
fill = [250, 220, 60, 255]
"""


def test_shipped_layers_draw_twin_tables() -> None:
    layers = catalog(REPO / "layers")
    assert {"municipality", "districts", "roads"} <= set(layers)
    districts = layers["districts"]
    assert districts.category == "kind"
    assert districts.style_of("KS").dashed
    assert not districts.style_of("MC").dashed
    assert layers["roads"].style_of("primary").line_width_px > layers["roads"].style.line_width_px
    assert layers["roads"].style_of("unknown class") == layers["roads"].style


def test_adding_a_layer_is_adding_a_file(tmp_path: Path) -> None:
    (tmp_path / "street_lights.toml").write_text(GOOD.format(id="street_lights"))
    assert catalog(tmp_path)["street_lights"].style.fill == (250, 220, 60, 255)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.format(id="street_lights") + "colour = 'red'\n", "Extra inputs are not permitted"),
        (GOOD.format(id="street_lights").replace("250", "300"), "less than or equal to 255"),
        (GOOD.format(id="street_lights").replace("point", "blob"), "geometry"),
        (GOOD.format(id="lamps"), "must match the file name"),
        ("id = [", "not valid TOML"),
        (
            GOOD.format(id="street_lights").replace("[style]", 'outline = "tiles"\n[style]'),
            "for polygon layers",
        ),
        (
            GOOD.format(id="street_lights")
            .replace("point", "line")
            .replace("[style]", 'transport = "tiles"\n[style]'),
            "need `band_m`",
        ),
    ],
)
def test_bad_layer_file_is_refused_naming_it(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "street_lights.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        read_layer(path)
    assert str(path) in str(info.value)
