-- Give every staged reading its datastream.
UPDATE _stage_observations o SET datastream_id = d.id
FROM twin.datastreams d
WHERE d.sensor_id = o.sensor_id AND d.property = o.property
