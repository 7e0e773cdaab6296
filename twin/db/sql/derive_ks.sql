-- Approximate polygons for the krajevne skupnosti (KS), which have no official polygons:
-- the area of the municipality outside the mestne četrti, split into Voronoi cells of the
-- KS statistical-unit points (GURS representative points), cells dissolved per KS.
-- Reads and writes the staging tables of the running load.
WITH muni AS (
    SELECT ST_Union(geom) AS geom FROM _stage_municipality
),
rest AS (
    SELECT ST_Difference(muni.geom, (SELECT ST_Union(geom) FROM _stage_districts WHERE kind = 'MC'))
        AS geom
    FROM muni
),
sites AS (
    SELECT DISTINCT ON (su.geom) su.district_id, su.geom
    FROM _stage_statistical_units AS su
    JOIN _stage_districts AS d ON d.id = su.district_id AND d.kind = 'KS'
    ORDER BY su.geom, su.district_id
),
cells AS (
    SELECT (ST_Dump(ST_VoronoiPolygons(ST_Collect(s.geom), 0, ST_Expand(m.geom, 5000)))).geom AS geom
    FROM sites AS s, muni AS m
    GROUP BY m.geom
),
labelled AS (
    SELECT s.district_id, c.geom FROM cells AS c JOIN sites AS s ON ST_Contains(c.geom, s.geom)
),
ks AS (
    SELECT l.district_id,
           ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Intersection(ST_Union(l.geom), r.geom)), 3))
               AS geom
    FROM labelled AS l, rest AS r
    GROUP BY l.district_id, r.geom
)
UPDATE _stage_districts AS d
SET geom = ks.geom
FROM ks
WHERE d.id = ks.district_id AND d.kind = 'KS'
