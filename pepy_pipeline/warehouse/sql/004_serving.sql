-- Read-optimised copies of the rollups for the API: one partition per MONTH, compacted to one
-- part, sorted by (project, date, ...). Reads cost ~0.35 ms per part touched (measured), so
-- daily partitions (one part set per day) made a 4-month question touch 120+ parts; here it
-- touches about 4. Rebuilt per month from the daily rollups when a day of that month changed.
-- Same columns as the daily rollups (CREATE ... AS), other partitioning and sort key.
CREATE TABLE IF NOT EXISTS {database}.serving_project_daily AS {database}.project_daily
ENGINE = MergeTree
PARTITION BY toYYYYMM(date)
ORDER BY (project, date);

CREATE TABLE IF NOT EXISTS {database}.serving_project_version_daily AS {database}.project_version_daily
ENGINE = MergeTree
PARTITION BY toYYYYMM(date)
ORDER BY (project, date, version);

CREATE TABLE IF NOT EXISTS {database}.serving_project_dimension_daily AS {database}.project_dimension_daily
ENGINE = MergeTree
PARTITION BY toYYYYMM(date)
ORDER BY (project, dimension, date, value);

-- When each month's serving partition was last rebuilt (compared with load_log.loaded_at).
CREATE TABLE IF NOT EXISTS {database}.serving_log
(
    month UInt32,
    built_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(built_at)
ORDER BY month;
