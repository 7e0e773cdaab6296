-- KPI engine: snapshots of computed results (the dashboard's trends) and the values of the
-- indicators that are entered rather than computed. The catalog itself is data
-- (twin/kpi/catalog.toml), so ids are not constrained here.

CREATE TABLE twin.kpi_snapshots (
    id                     serial PRIMARY KEY,
    taken_at               timestamptz NOT NULL DEFAULT now(),
    taken_by               text NOT NULL DEFAULT session_user,
    reporting_window_hours double precision NOT NULL CHECK (reporting_window_hours > 0),
    note                   text
);
COMMENT ON TABLE twin.kpi_snapshots IS 'One `twin kpi snapshot`: when, by whom, reporting window.';

CREATE TABLE twin.kpi_results (
    snapshot_id     integer NOT NULL REFERENCES twin.kpi_snapshots (id) ON DELETE CASCADE,
    kpi_id          text NOT NULL,
    scope           text NOT NULL,
    scope_kind      text NOT NULL CHECK (scope_kind IN ('city', 'MC', 'KS')),
    district_id     integer,
    value           double precision,
    unit            text NOT NULL,
    numerator       double precision,
    denominator     double precision,
    target_2030     double precision,
    synthetic_share double precision CHECK (synthetic_share BETWEEN 0 AND 1),
    reporting       double precision,
    computed_at     timestamptz NOT NULL,
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (snapshot_id, kpi_id, scope)
);
COMMENT ON TABLE twin.kpi_results IS
    'KPI results of each snapshot: value, numerator, denominator, synthetic share, reporting.';
CREATE INDEX kpi_results_kpi_idx ON twin.kpi_results (kpi_id, scope);

CREATE TABLE twin.kpi_manual_values (
    id          bigserial PRIMARY KEY,
    kpi_id      text NOT NULL CHECK (kpi_id ~ '^[a-z][a-z0-9_]*$'),
    value       double precision NOT NULL,
    observed_on date NOT NULL,
    source      text NOT NULL CHECK (btrim(source) <> ''),
    note        text,
    entered_by  text NOT NULL,
    entered_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE twin.kpi_manual_values IS
    'Values of the strategy indicators that are entered (twin kpi set, the dashboard form).';
CREATE INDEX kpi_manual_values_kpi_idx ON twin.kpi_manual_values (kpi_id, observed_on);

-- Editors enter values through the app (as twin_editor); viewers read everything in twin.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'twin_editor') THEN
        GRANT INSERT ON twin.kpi_manual_values TO twin_editor;
        GRANT USAGE ON SEQUENCE twin.kpi_manual_values_id_seq TO twin_editor;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'twin_viewer') THEN
        GRANT SELECT ON twin.kpi_snapshots, twin.kpi_results, twin.kpi_manual_values
            TO twin_viewer;
    END IF;
END $$;
