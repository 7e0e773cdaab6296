CREATE INDEX ON cov_emitters USING gist (reach);
ANALYZE cov_emitters;
