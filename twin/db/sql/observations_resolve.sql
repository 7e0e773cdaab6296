-- Find each staged reading's register sensor by id or by external station code; return (and
-- remove) the readings whose sensor is not in the register.
WITH found AS (
    UPDATE _stage_observations o SET sensor_id = s.id
    FROM register.sensor s
    WHERE s.id = o.sensor OR s.station_code = o.sensor
    RETURNING o.row_no
)
DELETE FROM _stage_observations o
WHERE o.sensor_id IS NULL AND o.row_no NOT IN (SELECT row_no FROM found)
RETURNING o.row_no, o.sensor
