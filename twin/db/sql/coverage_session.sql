-- The coverage queries are short; just-in-time compilation would cost more than it saves
-- (its cost estimates count every correlated subquery as if it ran for every row).
SET jit = off
