-- What the cached part of the sensor map's frame (sensors, datastreams, thresholds; see
-- twin.sensors.latest) depends on: the register's newest change (every statement writing
-- the register adds one), the newest datastream and the thresholds. Index lookups only.
SELECT (SELECT coalesce(max(change_id), 0) FROM register.changes)         AS register_version,
       (SELECT coalesce(max(id), 0) FROM twin.datastreams)                AS datastreams,
       (SELECT md5(coalesce(string_agg(concat_ws('|', id, property, kind, value), ',' ORDER BY id), ''))
        FROM twin.thresholds)                                              AS thresholds
