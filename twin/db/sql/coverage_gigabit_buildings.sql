-- Inhabited buildings with gigabit broadband by the model: a gigabit connection in the
-- register, or the footprint within the drop distance of an active access node or cable of
-- an operator whose modelled network is not replaced by its own polygons.
SELECT b.id AS unit_id
FROM register.building b
WHERE b.population > 0 AND b.state NOT IN ('planned', 'retired')
  AND (coalesce(b.fiber, 'none') = ANY(%(connections)s::text[])
       OR EXISTS (
           SELECT 1 FROM register.fiber_node n
           WHERE n.state = 'active' AND n.kind = ANY(%(node_kinds)s::text[])
             AND NOT n.operator = ANY(%(replaced)s::text[])
             AND ST_DWithin(n.geom, b.geom, %(drop_m)s))
       OR EXISTS (
           SELECT 1 FROM register.fiber_segment s
           WHERE s.state = 'active' AND s.kind = ANY(%(segment_kinds)s::text[])
             AND NOT s.operator = ANY(%(replaced)s::text[])
             AND ST_DWithin(s.geom, b.geom, %(drop_m)s)))
