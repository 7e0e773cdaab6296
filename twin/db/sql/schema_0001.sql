-- Base schema of the twin: real Maribor base layers, stored in EPSG:3794 (D96/TM).
-- Rows that come from outside carry `source` and `licence`; rows the project
-- derives or generates carry `synthetic` (and, for derived shapes, `approximate`).

CREATE SCHEMA IF NOT EXISTS twin;
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE twin.datasets (
    name        text PRIMARY KEY,
    title       text NOT NULL,
    table_name  text NOT NULL,
    file        text NOT NULL,
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    row_count   integer NOT NULL CHECK (row_count >= 0),
    source      text NOT NULL,
    licence     text NOT NULL,
    attribution text NOT NULL,
    synthetic   boolean NOT NULL DEFAULT false,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE twin.datasets IS 'Every loaded file: where it came from, its licence, its checksum and row count.';

CREATE FUNCTION twin.touch_loaded_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.loaded_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER datasets_touch BEFORE UPDATE ON twin.datasets
    FOR EACH ROW EXECUTE FUNCTION twin.touch_loaded_at();

CREATE TABLE twin.municipality (
    ob_id             integer PRIMARY KEY,
    ob_mid            bigint NOT NULL UNIQUE,
    name              text NOT NULL,
    full_name         text NOT NULL,
    isoid             text,
    official_area_km2 double precision NOT NULL CHECK (official_area_km2 > 0),
    quality           text,
    source            text NOT NULL,
    licence           text NOT NULL,
    geom              geometry(MultiPolygon, 3794) NOT NULL CHECK (ST_IsValid(geom))
);

CREATE TABLE twin.districts (
    id                  integer PRIMARY KEY,
    mid                 bigint NOT NULL UNIQUE,
    name                text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('MC', 'KS')),
    official_area_km2   double precision NOT NULL CHECK (official_area_km2 > 0),
    n_statistical_units integer,
    approximate         boolean NOT NULL DEFAULT false,
    synthetic           boolean NOT NULL DEFAULT false,
    geometry_note       text,
    source              text NOT NULL,
    licence             text NOT NULL,
    centroid            geometry(Point, 3794) NOT NULL,
    geom                geometry(MultiPolygon, 3794) NOT NULL CHECK (ST_IsValid(geom))
);
COMMENT ON TABLE twin.districts IS
    'Mestne četrti (MC, official GURS polygons) and krajevne skupnosti (KS, approximate polygons derived by the project).';

CREATE TABLE twin.statistical_units (
    po_mid      bigint PRIMARY KEY,
    po_id       integer NOT NULL UNIQUE,
    na_mid      bigint NOT NULL,
    settlement  text NOT NULL,
    district_id integer NOT NULL,
    ve_mid      bigint,
    vo_mid      bigint,
    vd_mid      bigint,
    le_mid      bigint,
    lv_mid      bigint,
    pt_mid      bigint,
    sl_mid      bigint,
    valid_from  date,
    source      text NOT NULL,
    licence     text NOT NULL,
    geom        geometry(Point, 3794) NOT NULL
);

CREATE TABLE twin.settlements (
    na_mid            bigint PRIMARY KEY,
    na_id             integer NOT NULL,
    name              text NOT NULL,
    official_area_km2 double precision NOT NULL,
    population        integer NOT NULL CHECK (population >= 0),
    population_source text NOT NULL,
    population_join   text NOT NULL,
    source            text NOT NULL,
    licence           text NOT NULL,
    geom              geometry(Point, 3794) NOT NULL
);

CREATE TABLE twin.streets (
    ul_mid     bigint PRIMARY KEY,
    ul_id      integer NOT NULL,
    name       text NOT NULL,
    na_mid     bigint NOT NULL,
    settlement text NOT NULL,
    valid_from date,
    source     text NOT NULL,
    licence    text NOT NULL
);

CREATE TABLE twin.roads (
    osm_id   bigint PRIMARY KEY,
    highway  text NOT NULL,
    name     text,
    ref      text,
    maxspeed text,
    lanes    text,
    surface  text,
    lit      text,
    oneway   text,
    source   text NOT NULL,
    licence  text NOT NULL,
    geom     geometry(LineString, 3794) NOT NULL CHECK (ST_IsValid(geom))
);

CREATE TABLE twin.bus_routes (
    osm_id       bigint PRIMARY KEY,
    ref          text,
    name         text NOT NULL,
    from_stop    text,
    to_stop      text,
    operator     text,
    network      text,
    n_stops      integer,
    n_ways       integer,
    stop_osm_ids text,
    source       text NOT NULL,
    licence      text NOT NULL,
    geom         geometry(MultiLineString, 3794) NOT NULL CHECK (ST_IsValid(geom))
);

CREATE TABLE twin.bus_stops (
    osm_id     bigint PRIMARY KEY,
    name       text,
    n_routes   integer NOT NULL DEFAULT 0,
    route_refs text,
    tags       jsonb NOT NULL DEFAULT '{}'::jsonb,
    source     text NOT NULL,
    licence    text NOT NULL,
    geom       geometry(Point, 3794) NOT NULL
);

CREATE TABLE twin.pois (
    osm_id            bigint PRIMARY KEY,
    name              text,
    name_en           text,
    name_de           text,
    key               text NOT NULL,
    value             text,
    population        integer,
    in_coarse_polygon boolean NOT NULL,
    source            text NOT NULL,
    licence           text NOT NULL,
    geom              geometry(Point, 3794) NOT NULL
);

CREATE TABLE twin.facilities (
    id       text PRIMARY KEY,
    kind     text NOT NULL CHECK (kind IN ('school', 'kindergarten', 'care_home', 'polling_station')),
    subtype  text,
    name     text NOT NULL,
    address  text,
    attrs    jsonb NOT NULL DEFAULT '{}'::jsonb,
    source   text NOT NULL,
    licence  text NOT NULL,
    geom     geometry(Point, 3794) NOT NULL
);
COMMENT ON TABLE twin.facilities IS 'Schools, kindergartens, care homes and polling stations.';

CREATE TABLE twin.monitoring_stations (
    code        text PRIMARY KEY,
    name        text NOT NULL,
    network     text NOT NULL,
    altitude_m  double precision,
    pollutants  text NOT NULL,
    source      text NOT NULL,
    licence     text NOT NULL,
    geom        geometry(Point, 3794) NOT NULL
);
COMMENT ON TABLE twin.monitoring_stations IS 'Air-quality monitoring stations (ARSO); pollutants is a comma-separated list.';

CREATE INDEX municipality_geom_gix ON twin.municipality USING gist (geom);
CREATE INDEX districts_geom_gix ON twin.districts USING gist (geom);
CREATE INDEX statistical_units_geom_gix ON twin.statistical_units USING gist (geom);
CREATE INDEX settlements_geom_gix ON twin.settlements USING gist (geom);
CREATE INDEX roads_geom_gix ON twin.roads USING gist (geom);
CREATE INDEX bus_routes_geom_gix ON twin.bus_routes USING gist (geom);
CREATE INDEX bus_stops_geom_gix ON twin.bus_stops USING gist (geom);
CREATE INDEX pois_geom_gix ON twin.pois USING gist (geom);
CREATE INDEX facilities_geom_gix ON twin.facilities USING gist (geom);
CREATE INDEX monitoring_stations_geom_gix ON twin.monitoring_stations USING gist (geom);
CREATE INDEX streets_na_mid_idx ON twin.streets (na_mid);
