-- Content hash of every synthetic row of the synthetic-city tables (same seed -> same hash).
SELECT md5(
    (SELECT coalesce(string_agg(md5(t::text), '' ORDER BY t.id), '') FROM twin.local_streets t WHERE t.synthetic)
 || (SELECT coalesce(string_agg(md5(t::text), '' ORDER BY t.id), '') FROM twin.buildings t WHERE t.synthetic)
 || (SELECT coalesce(string_agg(md5(t::text), '' ORDER BY t.id), '') FROM twin.assets t WHERE t.synthetic)
 || (SELECT coalesce(string_agg(md5(t::text), '' ORDER BY t.cell_id), '') FROM twin.population_grid t WHERE t.synthetic)
)
