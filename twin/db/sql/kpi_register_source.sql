-- Template: the active assets of one register class that a KPI reads. The table, the
-- conditions, the weight and the flags are composed by twin.kpi.calculators from the
-- validated KPI catalog (identifiers quoted, values bound as parameters). Assets outside the
-- bounding box of the scopes cannot count anywhere and are not read (an indexed filter).
SELECT t.id, t.name, t.geom, t.synthetic, ({weight})::double precision AS weight,
       ({flag}) AS flagged, ({flag_reporting}) AS flagged_reporting
FROM {table} t
WHERE t.state = 'active' AND {where} AND t.geom && {extent}
