-- Mobile sites on air, as the coverage model reads them (EPSG:3794 coordinates).
SELECT s.id AS site_id, s.operator, s.technologies, s.bands, s.azimuths_deg,
       s.antenna_height_m, ST_X(s.geom) AS x, ST_Y(s.geom) AS y
FROM register.mobile_site s
WHERE s.state = 'active'
ORDER BY s.id
