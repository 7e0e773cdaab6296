-- Remove the previous synthetic city; real rows (synthetic = false) stay.
DELETE FROM twin.population_grid WHERE synthetic;
DELETE FROM twin.assets WHERE synthetic;
DELETE FROM twin.buildings WHERE synthetic;
DELETE FROM twin.local_streets WHERE synthetic;
