-- The districts a coverage result is given for.
SELECT id AS district_id, name, kind FROM twin.districts ORDER BY kind DESC, name
