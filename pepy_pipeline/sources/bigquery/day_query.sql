-- One UTC day of PyPI downloads at the warehouse grain, aggregated in BigQuery.
-- A half-open timestamp range on the partition column: only that day's partition is scanned.
-- NULLs stay NULL; a Python version that does not start with "<major>.<minor>" becomes 'invalid'
-- (pypistats drops both; we keep them). GROUP BY ALL: emulators reject GROUP BY on an alias
-- that equals a column name (project).
SELECT
    @day AS date,
    project,
    IFNULL(file.version, '') AS version,
    file.type AS file_type,
    country_code,
    details.installer.name AS installer,
    CASE
        WHEN details.python IS NULL THEN NULL
        WHEN REGEXP_CONTAINS(details.python, r'^[0-9]+\.[0-9]+') THEN REGEXP_EXTRACT(details.python, r'^([0-9]+\.[0-9]+)')
        ELSE 'invalid'
    END AS python_minor,
    details.system.name AS system,
    IFNULL(details.ci, FALSE) AS ci,
    COUNT(*) AS downloads
FROM `{table}`
WHERE timestamp >= TIMESTAMP(@day) AND timestamp < TIMESTAMP(DATE_ADD(@day, INTERVAL 1 DAY))
GROUP BY ALL
