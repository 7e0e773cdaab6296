-- Index the walking lines before the dangles are looked up.
CREATE INDEX ON kpi_walk_lines USING gist (geom);
ANALYZE kpi_walk_lines;
