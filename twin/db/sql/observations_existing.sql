-- The observations already stored for a batch's datastreams within its time span (a replay),
-- packed into one bytea: per row the datastream id (4 bytes) and the phenomenon time
-- (8 bytes, microseconds since 2000-01-01 UTC), big-endian. NULL when there are none.
SELECT string_agg(int4send(datastream_id) || timestamptz_send(phenomenon_time), ''::bytea)
FROM twin.observations
WHERE datastream_id = ANY (%(streams)s::integer[])
  AND phenomenon_time BETWEEN %(first)s AND %(last)s
