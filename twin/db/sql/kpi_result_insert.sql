-- One KPI result of a snapshot.
INSERT INTO twin.kpi_results
    (snapshot_id, kpi_id, scope, scope_kind, district_id, value, unit, numerator, denominator,
     target_2030, synthetic_share, reporting, computed_at, details)
VALUES (%(snapshot_id)s, %(id)s, %(scope)s, %(scope_kind)s, %(district_id)s, %(value)s,
        %(unit)s, %(numerator)s, %(denominator)s, %(target_2030)s, %(synthetic_share)s,
        %(reporting)s, %(computed_at)s, %(details)s)
