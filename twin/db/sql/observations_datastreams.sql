-- Create the datastreams first seen in this batch (pairs of register sensor and observed
-- property); returns how many were made.
WITH made AS (
    INSERT INTO twin.datastreams (sensor_id, property, unit)
    SELECT DISTINCT p.sensor_id, p.property, op.unit
    FROM unnest(%(sensors)s::text[], %(properties)s::text[]) AS p (sensor_id, property)
    JOIN twin.observed_properties op ON op.id = p.property
    ON CONFLICT (sensor_id, property) DO NOTHING
    RETURNING id
)
SELECT count(*) FROM made
