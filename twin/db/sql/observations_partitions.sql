-- Monthly partitions for every month the batch writes.
SELECT twin.ensure_observation_partitions(min(phenomenon_time), max(phenomenon_time))
FROM _stage_observations
HAVING count(*) > 0
