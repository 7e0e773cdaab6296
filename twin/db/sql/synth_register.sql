-- Register one generated layer in twin.datasets (shown on the Data & sources page).
INSERT INTO twin.datasets (name, title, table_name, file, sha256, row_count, source, licence,
                           attribution, synthetic)
VALUES (%(name)s, %(title)s, %(table)s, %(file)s, %(sha256)s, %(rows)s, %(source)s, %(licence)s,
        %(attribution)s, true)
ON CONFLICT (name) DO UPDATE SET
    title = EXCLUDED.title, table_name = EXCLUDED.table_name, file = EXCLUDED.file,
    sha256 = EXCLUDED.sha256, row_count = EXCLUDED.row_count, source = EXCLUDED.source,
    licence = EXCLUDED.licence, attribution = EXCLUDED.attribution, synthetic = true
