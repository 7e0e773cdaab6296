INSERT INTO twin.synth_runs (seed, scale, content_hash, counts)
VALUES (%(seed)s, %(scale)s, %(hash)s, %(counts)s::jsonb)
