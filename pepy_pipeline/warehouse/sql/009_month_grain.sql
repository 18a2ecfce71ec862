-- (Number 008 is left unused: a reverted change, 03d4057, used it for project_daily by year;
-- a warehouse that ran it has 008 recorded and must still get this one.)
--
-- Month-grain rollups (issue 8: "pre-aggregated coarser granularity where a long range needs
-- it"). A month-granular question over all history read every (day, version) or (day, value)
-- row of the project: for the largest project's versions by month, 13 months of daily rows and
-- 145 ms at real size. These hold one row per (project, month, key).
--
-- Kept by the same deltas as the daily rollups (warehouse/commit.py: the day's delta summed by
-- month, attached to the month), so they always equal the daily tables summed by month (tested
-- over random loads and reloads). Partitioned by month like them: a month's delta and its
-- compaction stay the month's. The migration fills them from the daily tables, a month at a time
-- (warehouse/month_grain.py), each month replaced whole, so a re-run never adds twice.

CREATE TABLE IF NOT EXISTS {database}.project_version_monthly
(
    month Date CODEC(Delta, ZSTD(3)),
    project String CODEC(ZSTD(3)),
    version String CODEC(ZSTD(3)),
    downloads Int64 CODEC(T64, ZSTD(3)),
    downloads_without_mirrors Int64 CODEC(T64, ZSTD(3)),
    ci_downloads Int64 CODEC(T64, ZSTD(3)),
    pypistats_downloads Int64 CODEC(T64, ZSTD(3)),
    pypistats_without_mirrors Int64 CODEC(T64, ZSTD(3))
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(month)
ORDER BY (project, month, version);

CREATE TABLE IF NOT EXISTS {database}.project_dimension_monthly
(
    month Date CODEC(Delta, ZSTD(3)),
    project String CODEC(ZSTD(3)),
    dimension LowCardinality(String),
    value String CODEC(ZSTD(3)),
    downloads Int64 CODEC(T64, ZSTD(3)),
    downloads_without_mirrors Int64 CODEC(T64, ZSTD(3)),
    ci_downloads Int64 CODEC(T64, ZSTD(3)),
    pypistats_downloads Int64 CODEC(T64, ZSTD(3)),
    pypistats_without_mirrors Int64 CODEC(T64, ZSTD(3))
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(month)
ORDER BY (project, dimension, month, value);
