-- The placed KPI rows (kpi_place.sql) added up for the city (district_id NULL) and per
-- district: rows, synthetic rows, total weight, flagged weight and the flagged weight of
-- assets whose sensors report.
WITH placed AS ({placed})
SELECT NULL::integer AS district_id, count(*) AS n_rows,
       count(*) FILTER (WHERE synthetic) AS synthetic_rows,
       coalesce(sum(weight), 0) AS total,
       coalesce(sum(weight) FILTER (WHERE flagged), 0) AS flagged,
       coalesce(sum(weight) FILTER (WHERE flagged_reporting), 0) AS reporting
FROM placed
WHERE in_city
UNION ALL
SELECT district_id, count(*), count(*) FILTER (WHERE synthetic), coalesce(sum(weight), 0),
       coalesce(sum(weight) FILTER (WHERE flagged), 0),
       coalesce(sum(weight) FILTER (WHERE flagged_reporting), 0)
FROM placed
WHERE district_id IS NOT NULL
GROUP BY district_id
