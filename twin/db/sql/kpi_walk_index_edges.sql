-- Index the walking edges before stops and buildings are snapped to them.
CREATE INDEX ON kpi_walk_edges USING gist (geom);
ANALYZE kpi_walk_edges;
