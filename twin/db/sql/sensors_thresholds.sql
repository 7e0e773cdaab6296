-- The thresholds of the given observed properties (twin.thresholds, EU 2008/50/EC), lowest
-- first per property: what the sensor panel draws as lines.
SELECT t.id, t.property, t.kind, t.averaging, t.value, t.unit, t.source
FROM twin.thresholds t
WHERE t.property = ANY(%(properties)s::text[])
ORDER BY t.property, t.value, t.id
