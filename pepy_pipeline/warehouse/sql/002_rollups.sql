-- Pre-aggregated serving tables. Each is partitioned by day like the fact table, so a day's
-- rollups are replaced in the same way and always come from the same staged rows.
-- Every table is sorted by project first: the API only ever asks about one project.

-- Per project and day (with the '__all__' pseudo-project): totals, badges, pypistats overall.
CREATE TABLE IF NOT EXISTS {database}.project_daily
(
    date Date,
    project String,
    downloads UInt64,
    downloads_without_mirrors UInt64,
    ci_downloads UInt64
)
ENGINE = MergeTree
PARTITION BY date
ORDER BY project;

-- Per project, version and day: pepy.tech v2 and the pro downloads (with or without CI).
CREATE TABLE IF NOT EXISTS {database}.project_version_daily
(
    date Date,
    project String,
    version String,
    downloads UInt64,
    downloads_without_mirrors UInt64,
    ci_downloads UInt64
)
ENGINE = MergeTree
PARTITION BY date
ORDER BY (project, version);

-- Per project, day and one dimension value (long format: one table for every dimension).
-- value '' stands for upstream NULL.
CREATE TABLE IF NOT EXISTS {database}.project_dimension_daily
(
    date Date,
    project String,
    dimension LowCardinality(String),
    value String,
    downloads UInt64,
    downloads_without_mirrors UInt64,
    ci_downloads UInt64
)
ENGINE = MergeTree
PARTITION BY date
ORDER BY (project, dimension, value);
