DROP TABLE IF EXISTS twin.exceedances, twin.thresholds, twin.dead_letters,
    twin.latest_observations, twin.observations, twin.datastreams, twin.observed_properties CASCADE;
DROP FUNCTION IF EXISTS twin.ensure_observation_partitions(timestamptz, timestamptz);
