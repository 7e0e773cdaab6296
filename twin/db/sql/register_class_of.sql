-- The class of an asset id: from the live register, else from its history (deleted assets).
SELECT class FROM register.assets WHERE id = %(id)s
UNION ALL
SELECT class FROM (
    SELECT class FROM register.history WHERE asset_id = %(id)s ORDER BY history_id DESC LIMIT 1
) AS h
LIMIT 1
