-- Stage the populated grid cells' centroids once per connection (a temporary table with a
-- GiST index), so that coverage tests are plain arithmetic per (emitter, cell) pair.
CREATE TEMP TABLE IF NOT EXISTS cov_cells AS
SELECT g.cell_id, g.population, ST_X(c.pt) AS x, ST_Y(c.pt) AS y, c.pt
FROM twin.population_grid g
CROSS JOIN LATERAL (SELECT ST_Centroid(g.geom) AS pt) c
WHERE g.population > 0;
CREATE INDEX IF NOT EXISTS cov_cells_pt ON cov_cells USING gist (pt);
CREATE INDEX IF NOT EXISTS cov_cells_id ON cov_cells (cell_id);
ANALYZE cov_cells;
