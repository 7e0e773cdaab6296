-- The newest recorded synthetic city.
SELECT seed, scale, content_hash, counts FROM twin.synth_runs ORDER BY id DESC LIMIT 1
