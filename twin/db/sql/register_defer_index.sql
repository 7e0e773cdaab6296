-- Build the spatial index of a class table once at commit rather than row by row, when a
-- write of %(rows)s new rows brings at least as many as the table holds (see schema_0010).
SELECT register.defer_spatial_index(%(table)s::regclass, %(rows)s)
