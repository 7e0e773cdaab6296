-- Fragment: the sensor t itself delivered a value within the reporting window
-- (%(since)s, %(at)s].
EXISTS (SELECT 1 FROM twin.datastreams ds
        JOIN twin.latest_observations o ON o.datastream_id = ds.id
        WHERE ds.sensor_id = t.id
          AND o.phenomenon_time > %(since)s AND o.phenomenon_time <= %(at)s)
