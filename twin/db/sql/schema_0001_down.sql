DROP TABLE IF EXISTS twin.monitoring_stations, twin.facilities, twin.pois, twin.bus_stops,
    twin.bus_routes, twin.roads, twin.streets, twin.settlements, twin.statistical_units,
    twin.districts, twin.municipality, twin.datasets;
DROP FUNCTION IF EXISTS twin.touch_loaded_at();
