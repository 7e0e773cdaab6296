-- Fragment: an active sensor of kind %(flag_sensor)s mounted on the asset t delivered a value
-- within the reporting window (%(since)s, %(at)s].
EXISTS (SELECT 1 FROM register.sensor s
        JOIN twin.datastreams ds ON ds.sensor_id = s.id
        JOIN twin.latest_observations o ON o.datastream_id = ds.id
        WHERE s.parent_id = t.id AND s.state = 'active' AND s.kind = %(flag_sensor)s
          AND o.phenomenon_time > %(since)s AND o.phenomenon_time <= %(at)s)
