-- The newest reading time of one sensor (over all its datastreams), from the latest values
-- the ingest path keeps; NULL when it has none.
SELECT max(l.phenomenon_time) AS newest
FROM twin.datastreams d
JOIN twin.latest_observations l ON l.datastream_id = d.id
WHERE d.sensor_id = %(sensor)s
