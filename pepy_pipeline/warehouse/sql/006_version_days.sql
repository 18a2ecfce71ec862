-- Per (project, day) version arrays for pepy's v2 and pro answers (issue 8: at real size a big
-- project has ~10^5 (day, version) cells over v2's four months; grouping them per request took
-- 0.2-0.8 s). A commit adds the day's rows with a newer committed_at; readers take the newest
-- row of each (project, day) (argMax), merges keep only it. Days committed before this table
-- existed are filled from their version rollups (migrations.backfill_version_days).
CREATE TABLE IF NOT EXISTS {database}.project_version_days
(
    project String CODEC(ZSTD(3)),
    date Date CODEC(Delta, ZSTD(3)),
    versions Array(String) CODEC(ZSTD(3)),
    downloads Array(Int64) CODEC(ZSTD(3)),
    not_ci_downloads Array(Int64) CODEC(ZSTD(3)),
    committed_at DateTime64(3) CODEC(Delta, ZSTD(3))
)
ENGINE = ReplacingMergeTree(committed_at)
PARTITION BY toYYYYMM(date)
ORDER BY (project, date)
-- A row holds a day's versions (1,000+ for a big project): 8,192-row granules made every read
-- decompress megabytes of other projects' arrays (one month at real size: 13-19 ms a project,
-- 256 rows and at most 1 MiB a granule: 8-10 ms).
SETTINGS index_granularity = 256, index_granularity_bytes = 1048576;
