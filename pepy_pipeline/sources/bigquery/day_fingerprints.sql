-- Row count and last modification of each daily partition upstream: cheap metadata (BigQuery
-- bills INFORMATION_SCHEMA queries at its 10 MB minimum), compared with what each day was loaded
-- from to find days that changed since (late rows) without reloading blindly.
SELECT partition_id, total_rows, CAST(UNIX_MILLIS(last_modified_time) AS STRING) AS modified
FROM `{dataset}.INFORMATION_SCHEMA.PARTITIONS`
WHERE table_name = @table_name AND partition_id IN UNNEST(@partitions)
