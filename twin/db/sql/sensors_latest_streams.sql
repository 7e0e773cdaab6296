-- The slowly changing part of the sensor map's frame (twin.sensors.latest caches it until
-- sensors_latest_key.sql changes): every datastream with its sensor (id, name, kind, its
-- external id: the station or device code, else the register id; whether it is synthetic,
-- the register's source of it, whether it is retired), its position in D96/TM, property,
-- unit and how long until it counts as stale (three reporting intervals, one hour when the
-- register gives none).
SELECT d.id                                              AS datastream_id,
       s.id                                              AS sensor_id,
       s.name,
       s.kind,
       coalesce(s.station_code, s.id)                    AS external_id,
       s.synthetic,
       s.source,
       ST_X(s.geom)                                      AS e,
       ST_Y(s.geom)                                      AS n,
       d.property,
       d.unit,
       3 * coalesce(s.reporting_interval_s, 3600)::float8 AS stale_after_s,
       s.state = 'retired'                               AS retired
FROM twin.datastreams d
JOIN register.sensor s ON s.id = d.sensor_id
