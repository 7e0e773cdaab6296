-- Stage emitters for one transaction: position, range, near field, half beam width, sector
-- azimuths (NULL: omni) and the box they can reach; emitter is the 0-based array position.
CREATE TEMP TABLE cov_emitters ON COMMIT DROP AS
SELECT (u.n - 1)::int AS emitter, x, y, range_m, near_m, beam_deg / 2 AS half_beam,
       string_to_array(nullif(azimuths, ''), ';')::float8[] AS az,
       ST_Expand(ST_SetSRID(ST_MakePoint(x, y), 3794), range_m) AS reach
FROM unnest(%(x)s::float8[], %(y)s::float8[], %(range_m)s::float8[], %(near_m)s::float8[],
            %(beam_deg)s::float8[], %(azimuths)s::text[]) WITH ORDINALITY
     AS u(x, y, range_m, near_m, beam_deg, azimuths, n)
