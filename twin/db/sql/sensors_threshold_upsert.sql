INSERT INTO twin.thresholds (id, property, kind, averaging, value, unit, allowed_per_year, source)
VALUES (%(id)s, %(property)s, %(kind)s, %(averaging)s, %(value)s, %(unit)s,
        %(allowed_per_year)s, %(source)s)
ON CONFLICT (id) DO UPDATE SET property = EXCLUDED.property, kind = EXCLUDED.kind,
    averaging = EXCLUDED.averaging, value = EXCLUDED.value, unit = EXCLUDED.unit,
    allowed_per_year = EXCLUDED.allowed_per_year, source = EXCLUDED.source
