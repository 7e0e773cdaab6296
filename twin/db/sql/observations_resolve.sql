-- The register sensor of each distinct sensor key of a batch: the sensor with that id, else
-- the one with that external station code; NULL when the register knows neither. n is the
-- key's 1-based position in %(keys)s.
SELECT k.n, coalesce(by_id.id, by_code.id)
FROM unnest(%(keys)s::text[]) WITH ORDINALITY AS k (key, n)
LEFT JOIN register.sensor by_id ON by_id.id = k.key
LEFT JOIN register.sensor by_code ON by_code.station_code = k.key
