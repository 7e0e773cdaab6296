-- Register sensors as SensorThings Things, each with its WGS84 Location (6 decimals ≈ 0.1 m).
SELECT json_build_object(
    '@iot.id', s.id,
    'name', coalesce(s.name, s.station_code, s.id),
    'description', s.kind || ' sensor',
    'properties', json_strip_nulls(json_build_object(
        'station_code', s.station_code, 'kind', s.kind, 'state', s.state,
        'observed_properties', s.observed_properties, 'synthetic', s.synthetic,
        'source', s.source, 'licence', s.licence, 'parent_id', s.parent_id)),
    'Locations', json_build_array(json_build_object(
        'encodingType', 'application/geo+json',
        'location', json_build_object('type', 'Point', 'coordinates', json_build_array(
            round(ST_X(g)::numeric, 6), round(ST_Y(g)::numeric, 6))))))
FROM register.sensor s
CROSS JOIN LATERAL ST_Transform(s.geom, 4326) AS g
ORDER BY s.id
LIMIT %(top)s OFFSET %(skip)s
