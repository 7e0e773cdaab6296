-- Index the KPI rows by their placement point.
CREATE INDEX ON kpi_rows USING gist (pt);
ANALYZE kpi_rows;
