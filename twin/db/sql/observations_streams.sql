-- The datastream of each (sensor, property) pair of a batch; n is the pair's 1-based position.
-- Pairs whose property is not in twin.observed_properties have none and are left out.
SELECT p.n, d.id
FROM unnest(%(sensors)s::text[], %(properties)s::text[]) WITH ORDINALITY AS p (sensor_id, property, n)
JOIN twin.datastreams d ON d.sensor_id = p.sensor_id AND d.property = p.property
