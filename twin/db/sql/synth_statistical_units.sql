SELECT po_mid, na_mid, district_id, ST_AsBinary(geom) AS geometry
FROM twin.statistical_units ORDER BY po_mid
