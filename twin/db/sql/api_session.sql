-- Reads of the HTTP API give their times in UTC (ISO 8601 with +00:00).
SELECT set_config('TimeZone', 'UTC', false)
