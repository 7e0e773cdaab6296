-- Rows of a twin table drawn on the 3D scene: the catalog's fields and the shape in CRS
-- %(srid)s. {fields} and {table} are identifiers taken from the layer catalog
-- (layers/*.toml), never from user input.
SELECT {fields}, ST_AsBinary(ST_Transform(t.geom, %(srid)s::integer)) AS geometry
FROM {table} AS t
