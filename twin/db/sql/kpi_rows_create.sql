-- The rows one KPI reads (assets, stations, population cells, inhabited buildings), kept in a
-- temporary table with an index on the point each is placed by, so that placing them in the
-- scopes is an indexed join. Filled by kpi_rows_insert.sql, indexed by kpi_rows_index.sql.
DROP TABLE IF EXISTS pg_temp.kpi_rows;
CREATE TEMP TABLE kpi_rows (
    id                text NOT NULL,
    name              text,
    geom              geometry NOT NULL,
    synthetic         boolean NOT NULL,
    weight            double precision NOT NULL,
    flagged           boolean NOT NULL,
    flagged_reporting boolean NOT NULL,
    pt                geometry(Point, 3794) NOT NULL
) ON COMMIT DROP;
