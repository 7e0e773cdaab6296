-- The walking network near the bus stops, as temporary tables of the current transaction:
-- the street lines that come near a stop, and the edges made from them (noded at every
-- crossing, dangling ends joined to the nearest street). Filled by kpi_walk_lines.sql and
-- kpi_walk_edges.sql.
DROP TABLE IF EXISTS pg_temp.kpi_walk_lines, pg_temp.kpi_walk_edges;
CREATE TEMP TABLE kpi_walk_lines (
    id serial PRIMARY KEY,
    geom geometry(LineString, 3794) NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE kpi_walk_edges (
    id serial PRIMARY KEY,
    geom geometry(LineString, 3794) NOT NULL,
    length double precision NOT NULL
) ON COMMIT DROP;
