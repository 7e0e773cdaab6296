-- Installed PostGIS extension version (no row when PostGIS is not installed).
SELECT extversion FROM pg_extension WHERE extname = 'postgis'
