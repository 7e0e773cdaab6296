-- SensorThings Datastreams: one observed property of one register sensor, with the unit, the
-- Thing and the latest reading; optionally of one sensor (id or station code) or property.
SELECT json_build_object(
    '@iot.id', d.id,
    'name', coalesce(s.station_code, d.sensor_id) || ' ' || d.property,
    'description', p.name || ' at ' || coalesce(s.name, s.station_code, d.sensor_id),
    'observationType', 'http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement',
    'unitOfMeasurement', json_build_object('name', d.unit, 'symbol', d.unit, 'definition', ''),
    'ObservedProperty', json_build_object('@iot.id', p.id, 'name', p.name,
                                          'definition', p.definition),
    'Thing', json_build_object('@iot.id', d.sensor_id, 'name', s.name,
                               'station_code', s.station_code),
    'latest', CASE WHEN l.datastream_id IS NOT NULL THEN json_build_object(
        'phenomenonTime', l.phenomenon_time, 'result', l.value, 'resultQuality', l.quality) END)
FROM twin.datastreams d
JOIN twin.observed_properties p ON p.id = d.property
LEFT JOIN register.sensor s ON s.id = d.sensor_id
LEFT JOIN twin.latest_observations l ON l.datastream_id = d.id
WHERE (%(sensor)s::text IS NULL OR d.sensor_id = %(sensor)s OR s.station_code = %(sensor)s)
  AND (%(property)s::text IS NULL OR d.property = %(property)s)
ORDER BY d.id
LIMIT %(top)s OFFSET %(skip)s
