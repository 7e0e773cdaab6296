-- Monthly partitions for every month the batch writes.
SELECT twin.ensure_observation_partitions(%(first)s, %(last)s)
