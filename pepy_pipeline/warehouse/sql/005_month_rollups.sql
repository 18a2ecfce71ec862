-- Rollups partitioned by MONTH and maintained by deltas (issue 8: publishing must cost what the
-- changed day costs, not the month or the history).
--
-- A committed day adds one part per table to its month: the new rows of the day plus the
-- negated rows it replaces (see warehouse/commit.py), attached atomically with ATTACH PARTITION
-- FROM. Counts are therefore signed, and SummingMergeTree folds a day's delta rows into one row
-- per key as parts merge (rows summing to zero disappear). Every reader sums, so unmerged parts
-- never change an answer. Reads touch a few parts per month instead of one per day.
--
-- Measures, the same in every rollup (warehouse/measures.py holds their one definition):
--   downloads                  every download
--   downloads_without_mirrors  installer not a known mirror (NULL installer counts as not a mirror)
--   ci_downloads               details.ci is TRUE
--   pypistats_downloads        pypistats.org's "with_mirrors": a non-NULL Python that is not
--                              <digit>.<digits> drops the row
--   pypistats_without_mirrors  pypistats.org's "without_mirrors": also drops NULL installers

DROP TABLE IF EXISTS {database}.serving_project_daily;
DROP TABLE IF EXISTS {database}.serving_project_version_daily;
DROP TABLE IF EXISTS {database}.serving_project_dimension_daily;
DROP TABLE IF EXISTS {database}.serving_log;
DROP TABLE IF EXISTS {database}.project_totals;
DROP TABLE IF EXISTS {database}.project_daily;
DROP TABLE IF EXISTS {database}.project_version_daily;
DROP TABLE IF EXISTS {database}.project_dimension_daily;

-- Per project and day (with the '__all__' pseudo-project).
CREATE TABLE IF NOT EXISTS {database}.project_daily
(
    date Date CODEC(Delta, ZSTD(3)),
    project String CODEC(ZSTD(3)),
    downloads Int64 CODEC(T64, ZSTD(3)),
    downloads_without_mirrors Int64 CODEC(T64, ZSTD(3)),
    ci_downloads Int64 CODEC(T64, ZSTD(3)),
    pypistats_downloads Int64 CODEC(T64, ZSTD(3)),
    pypistats_without_mirrors Int64 CODEC(T64, ZSTD(3))
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(date)
ORDER BY (project, date);

-- Per project, version and day.
CREATE TABLE IF NOT EXISTS {database}.project_version_daily
(
    date Date CODEC(Delta, ZSTD(3)),
    project String CODEC(ZSTD(3)),
    version String CODEC(ZSTD(3)),
    downloads Int64 CODEC(T64, ZSTD(3)),
    downloads_without_mirrors Int64 CODEC(T64, ZSTD(3)),
    ci_downloads Int64 CODEC(T64, ZSTD(3)),
    pypistats_downloads Int64 CODEC(T64, ZSTD(3)),
    pypistats_without_mirrors Int64 CODEC(T64, ZSTD(3))
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(date)
ORDER BY (project, date, version);

-- Per project, day and one dimension value (long format); value '' stands for upstream NULL.
CREATE TABLE IF NOT EXISTS {database}.project_dimension_daily
(
    date Date CODEC(Delta, ZSTD(3)),
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
PARTITION BY toYYYYMM(date)
ORDER BY (project, dimension, date, value);

-- All loaded days per project, kept by the same deltas as project_daily (one row per project
-- once merged): totals never re-read the history.
CREATE TABLE IF NOT EXISTS {database}.project_alltime
(
    project String,
    downloads Int64,
    downloads_without_mirrors Int64,
    ci_downloads Int64,
    pypistats_downloads Int64,
    pypistats_without_mirrors Int64
)
ENGINE = SummingMergeTree
ORDER BY project;

-- Downloads before the first loaded day, per project, loaded once (warehouse/opening_balance.py).
-- Replaced whole (EXCHANGE TABLES); stops_before is the first day it does NOT cover.
CREATE TABLE IF NOT EXISTS {database}.opening_balance
(
    project String,
    downloads Int64,
    downloads_without_mirrors Int64,
    stops_before Date,
    source LowCardinality(String),
    loaded_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY project;

-- Sums over the last 1/7/30 loaded days per project, rebuilt at each publish from at most 30
-- days of project_daily (cost bounded by a month of project rows, never the history).
CREATE TABLE IF NOT EXISTS {database}.project_recent
(
    project String,
    last_day Int64,
    last_week Int64,
    last_month Int64,
    last_day_pypistats Int64,
    last_week_pypistats Int64,
    last_month_pypistats Int64,
    as_of Date
)
ENGINE = MergeTree
ORDER BY project;

-- What the last publish made visible, for readers and the UI.
CREATE TABLE IF NOT EXISTS {database}.publish_log
(
    published_at DateTime64(3, 'UTC'),
    first_complete_day Nullable(Date),
    last_complete_day Nullable(Date),
    generation String,
    seconds Float64
)
ENGINE = MergeTree
ORDER BY published_at;

-- The state of each day's commit: 'committing' is written before the swap statements and
-- 'committed' after them, so a commit killed in between is found by the next writer.
ALTER TABLE {database}.load_log ADD COLUMN IF NOT EXISTS state LowCardinality(String) DEFAULT 'committed';
ALTER TABLE {database}.load_log ADD COLUMN IF NOT EXISTS upstream_fingerprint String DEFAULT '';
