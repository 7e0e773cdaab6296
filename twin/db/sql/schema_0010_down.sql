-- Back to 0009: every import maintains the spatial index row by row.
DROP TABLE register.deferred_index;
DROP FUNCTION register.rebuild_deferred_index();
DROP FUNCTION register.defer_spatial_index(regclass, bigint);
