-- Every download before @stops_before, per project: the opening balance of all-time totals.
-- Scans the project and installer columns of EVERY partition before the day (terabytes): it is
-- dry-run first, shown by `python -m pepy_pipeline estimate --opening-balance`, capped by its own
-- PEPY_BIGQUERY_BALANCE_MAXIMUM_BYTES_BILLED, and run once.
SELECT
    project,
    COUNT(*) AS downloads,
    COUNTIF(details.installer.name IS NULL
            OR details.installer.name NOT IN ('bandersnatch', 'z3c.pypimirror', 'Artifactory', 'devpi'))
        AS downloads_without_mirrors
FROM `{table}`
WHERE timestamp < TIMESTAMP(@stops_before)
GROUP BY project
