-- The register sensor and observed property of SensorThings datastream ids.
SELECT id, sensor_id, property FROM twin.datastreams WHERE id = ANY (%(ids)s::integer[])
