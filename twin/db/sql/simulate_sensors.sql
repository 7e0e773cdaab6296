-- Register sensors the simulator may drive: active and synthetic (never a real station, whose
-- readings must be real), with what they observe and, for traffic counters, their lanes.
SELECT id, kind, coalesce(observed_properties, '') AS observed_properties,
       coalesce(lanes, 2) AS lanes
FROM register.sensor
WHERE state = 'active' AND synthetic
ORDER BY id
