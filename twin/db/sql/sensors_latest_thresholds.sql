-- The thresholds the sensor map compares the newest values with, per property from the
-- lowest (ties in the order of their ids: the later one covers the values above both).
SELECT t.property, t.kind, t.value
FROM twin.thresholds t
ORDER BY t.property, t.value, t.id
