-- Whether this connection has staged the populated cells already (coverage_stage_cells).
SELECT to_regclass('pg_temp.cov_cells') IS NOT NULL AS staged
