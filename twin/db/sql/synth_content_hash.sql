-- Content hash of the synthetic rows of schema twin (the register classes are added by
-- twin.synth.city, without their bookkeeping columns).
SELECT (SELECT coalesce(string_agg(md5(t::text), '' ORDER BY t.id), '') FROM twin.local_streets t WHERE t.synthetic)
    || (SELECT coalesce(string_agg(md5(t::text), '' ORDER BY t.cell_id), '') FROM twin.population_grid t WHERE t.synthetic)
