-- Remove the previous synthetic layers of schema twin; real rows (synthetic = false) stay.
-- (Register classes are merged by id instead, so an unchanged city writes no history.)
DELETE FROM twin.population_grid WHERE synthetic;
DELETE FROM twin.local_streets WHERE synthetic;
