DROP TABLE IF EXISTS twin.kpi_results, twin.kpi_snapshots, twin.kpi_manual_values;
