-- How fresh a register KPI's inputs are: the last change of its register class, and the
-- newest reading of the sensors of kind %(sensor_kind)s (NULL when none or not given).
SELECT (SELECT max(changed_at) FROM {table}) AS data_changed_at,
       (SELECT max(o.phenomenon_time)
        FROM twin.latest_observations o
        JOIN twin.datastreams d ON d.id = o.datastream_id
        JOIN register.sensor s ON s.id = d.sensor_id
        WHERE s.kind = %(sensor_kind)s) AS latest_reading
