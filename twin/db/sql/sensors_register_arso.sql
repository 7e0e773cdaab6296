-- An ARSO station the register does not know becomes a sensor asset (by its station code).
INSERT INTO register.sensor (name, station_code, kind, owner, operator, source, licence, geom)
SELECT %(name)s, %(code)s, 'air_quality', 'ARSO', 'ARSO', 'ARSO', 'Vir: ARSO',
       ST_SetSRID(ST_MakePoint(%(e)s, %(n)s), 3794)
WHERE NOT EXISTS (SELECT 1 FROM register.sensor WHERE station_code = %(code)s)
