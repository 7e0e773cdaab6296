-- Template: the rows of a source (columns id, name, geom, synthetic, weight, flagged,
-- flagged_reporting) with the point each is placed by: the geometry itself for points,
-- ST_PointOnSurface otherwise. Composed by twin.kpi.calculators.
INSERT INTO kpi_rows (id, name, geom, synthetic, weight, flagged, flagged_reporting, pt)
SELECT src.id, src.name, src.geom, src.synthetic, src.weight, src.flagged,
       src.flagged_reporting,
       CASE WHEN ST_Dimension(src.geom) = 0 THEN src.geom ELSE ST_PointOnSurface(src.geom) END
FROM ({source}) src
