-- Live sensor layers (OGC SensorThings names): a register sensor (Thing, with its Location)
-- has one datastream per observed property; observations are append-only, keyed by
-- (datastream, phenomenon time) so that a replay stores nothing twice; the latest value per
-- datastream is kept by the ingest path; what cannot be stored goes to the dead letters.

CREATE TABLE twin.observed_properties (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9_.]+$'),
    name        text NOT NULL,
    unit        text NOT NULL,
    definition  text NOT NULL
);
COMMENT ON TABLE twin.observed_properties IS
    'SensorThings ObservedProperty: what is measured and the one unit the twin stores it in.';

CREATE TABLE twin.datastreams (
    id          serial PRIMARY KEY,
    sensor_id   text NOT NULL,
    property    text NOT NULL REFERENCES twin.observed_properties (id),
    unit        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (sensor_id, property)
);
COMMENT ON TABLE twin.datastreams IS
    'SensorThings Datastream: one observed property of one register sensor (register.sensor.id).';

CREATE TABLE twin.observations (
    datastream_id    integer NOT NULL,
    phenomenon_time  timestamptz NOT NULL,
    phenomenon_end   timestamptz,
    value            double precision,
    quality          text NOT NULL DEFAULT 'ok'
                     CHECK (quality IN ('ok', 'below_detection', 'suspect')),
    detection_limit  double precision,
    result_time      timestamptz NOT NULL DEFAULT now(),
    source           text NOT NULL,
    PRIMARY KEY (datastream_id, phenomenon_time),
    CHECK (value IS NOT NULL OR quality = 'below_detection')
) PARTITION BY RANGE (phenomenon_time);
COMMENT ON TABLE twin.observations IS
    'SensorThings Observation, append-only, monthly partitions. quality below_detection: value '
    'is NULL and detection_limit holds the limit (ARSO "<2").';
CREATE INDEX observations_time_brin ON twin.observations USING brin (phenomenon_time);

-- Monthly partitions are created by the ingest path for the months it writes.
CREATE FUNCTION twin.ensure_observation_partitions(first timestamptz, last timestamptz)
    RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    month timestamptz := date_trunc('month', first AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    made integer := 0;
    name text;
BEGIN
    WHILE month <= last LOOP
        name := 'observations_' || to_char(month AT TIME ZONE 'UTC', 'YYYY_MM');
        IF to_regclass('twin.' || name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE twin.%I PARTITION OF twin.observations FOR VALUES FROM (%L) TO (%L)',
                name, month, month + interval '1 month');
            made := made + 1;
        END IF;
        month := month + interval '1 month';
    END LOOP;
    RETURN made;
END $$;

CREATE TABLE twin.latest_observations (
    datastream_id    integer PRIMARY KEY REFERENCES twin.datastreams (id),
    phenomenon_time  timestamptz NOT NULL,
    value            double precision,
    quality          text NOT NULL,
    detection_limit  double precision,
    result_time      timestamptz NOT NULL
);
COMMENT ON TABLE twin.latest_observations IS
    'The newest observation of each datastream, kept by the ingest path (not recomputed).';

CREATE TABLE twin.dead_letters (
    id           bigserial PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    source       text NOT NULL,
    topic        text,
    payload      text NOT NULL,
    reason       text NOT NULL
);
COMMENT ON TABLE twin.dead_letters IS
    'Messages and rows that could not be stored, with the reason; nothing is dropped silently.';
CREATE INDEX dead_letters_time_idx ON twin.dead_letters (received_at);

CREATE TABLE twin.thresholds (
    id          text PRIMARY KEY,
    property    text NOT NULL REFERENCES twin.observed_properties (id),
    kind        text NOT NULL CHECK (kind IN ('limit', 'information', 'alert', 'target')),
    averaging   text NOT NULL CHECK (averaging IN ('1h', '8h', '24h')),
    value       double precision NOT NULL,
    unit        text NOT NULL,
    allowed_per_year integer,
    source      text NOT NULL
);
COMMENT ON TABLE twin.thresholds IS 'Air-quality limit, information and alert thresholds (EU 2008/50/EC).';

CREATE TABLE twin.exceedances (
    datastream_id  integer NOT NULL REFERENCES twin.datastreams (id),
    threshold_id   text NOT NULL REFERENCES twin.thresholds (id),
    period_start   timestamptz NOT NULL,
    value          double precision NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (datastream_id, threshold_id, period_start)
);
COMMENT ON TABLE twin.exceedances IS 'Observations (or daily means) above a threshold.';
