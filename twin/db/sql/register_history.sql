-- Every version of one asset, oldest first (the one in force from its table); geometry as
-- WKT in EPSG:4326.
SELECT version, operation, valid_from, valid_to, changed_by, reason, record,
       ST_AsText(ST_Transform(geom, 4326), 7) AS wkt
FROM register.versions(%(class)s, %(id)s)
ORDER BY version
