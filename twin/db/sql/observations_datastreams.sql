-- Create the datastreams first seen in this batch; returns how many were made.
WITH made AS (
    INSERT INTO twin.datastreams (sensor_id, property, unit)
    SELECT DISTINCT o.sensor_id, o.property, p.unit
    FROM _stage_observations o JOIN twin.observed_properties p ON p.id = o.property
    ON CONFLICT (sensor_id, property) DO NOTHING
    RETURNING id
)
SELECT count(*) FROM made
