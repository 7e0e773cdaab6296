-- The local units (mestne četrti and krajevne skupnosti) for display.
-- Areas are measured in the storage CRS (EPSG:3794, metres); shapes and label points are
-- sent in the display CRS %(srid)s as WKB. The label point is the centre of the largest
-- inscribed circle, which lies inside the polygon even where the centroid does not.
SELECT
    d.id,
    d.name,
    d.kind,
    d.official_area_km2,
    ST_Area(d.geom) / 1e6 AS area_km2,
    d.approximate,
    d.synthetic,
    d.geometry_note,
    d.source,
    d.licence,
    ST_X(l.point) AS label_lon,
    ST_Y(l.point) AS label_lat,
    ST_AsBinary(ST_Transform(d.geom, %(srid)s::integer)) AS geometry
FROM twin.districts AS d
CROSS JOIN LATERAL (
    SELECT ST_Transform((ST_MaximumInscribedCircle(d.geom)).center, %(srid)s::integer) AS point
) AS l
ORDER BY d.kind DESC, d.name
