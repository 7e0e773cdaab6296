"""pydeck scenes of the twin, built from frames read out of the database.

Every deck is offline: ``map_provider=None`` and no ``map_style``, so no basemap tiles are
fetched; the scenes draw their own context (land, roads) from the twin's tables.
"""

from twin.scene.context import road_frame
from twin.scene.districts import MAP_HEIGHT_PX, MAP_TABLES, district_deck, legend_html

__all__ = ["MAP_HEIGHT_PX", "MAP_TABLES", "district_deck", "legend_html", "road_frame"]
