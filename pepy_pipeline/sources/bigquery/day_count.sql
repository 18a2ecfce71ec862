-- The day's row count upstream: each row is one download. Bills at most the partition's timestamp
-- column (~8 B a row, ~45 GB a 2026 day) unless BigQuery answers it from metadata: what it billed
-- is recorded (count_bytes_billed on the upstream-count check).
SELECT COUNT(*) AS downloads
FROM `{table}`
WHERE timestamp >= TIMESTAMP(@day) AND timestamp < TIMESTAMP(DATE_ADD(@day, INTERVAL 1 DAY))
