-- Krajevne skupnosti the derivation could not give a polygon (no statistical-unit points).
SELECT name FROM _stage_districts WHERE kind = 'KS' AND (geom IS NULL OR ST_IsEmpty(geom))
ORDER BY name
