-- Staging table of one ingest batch (dropped at the end of the batch).
CREATE TEMP TABLE IF NOT EXISTS _stage_observations (
    row_no          bigint,
    sensor          text,
    property        text,
    phenomenon_time timestamptz,
    phenomenon_end  timestamptz,
    value           double precision,
    quality         text,
    detection_limit double precision,
    sensor_id       text,
    datastream_id   integer
)
