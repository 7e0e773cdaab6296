DROP TABLE IF EXISTS twin.synth_runs, twin.population_grid, twin.assets, twin.buildings,
    twin.local_streets;
