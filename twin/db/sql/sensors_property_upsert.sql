INSERT INTO twin.observed_properties (id, name, unit, definition)
VALUES (%(id)s, %(name)s, %(unit)s, %(definition)s)
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, unit = EXCLUDED.unit,
    definition = EXCLUDED.definition
