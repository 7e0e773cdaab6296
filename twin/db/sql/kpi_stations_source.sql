-- The ARSO monitoring stations of twin.monitoring_stations that the register does not hold
-- (matched by station code, whatever the register sensor's state): `twin load maribor` brings
-- them, `twin ingest arso` turns them into register sensors; counted once either way.
SELECT 'station:' || m.code AS id, m.name, m.geom, false AS synthetic,
       1.0::double precision AS weight, true AS flagged, false AS flagged_reporting
FROM twin.monitoring_stations m
WHERE NOT EXISTS (SELECT 1 FROM register.sensor s WHERE s.station_code = m.code)
