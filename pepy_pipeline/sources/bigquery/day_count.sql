-- The day's row count upstream: each row is one download. Cheap (partition metadata).
SELECT COUNT(*) AS downloads
FROM `{table}`
WHERE timestamp >= TIMESTAMP(@day) AND timestamp < TIMESTAMP(DATE_ADD(@day, INTERVAL 1 DAY))
