(SELECT ST_SetSRID(ST_Extent(geom)::geometry, 3794)
 FROM (SELECT geom FROM twin.municipality UNION ALL SELECT geom FROM twin.districts) scopes)
