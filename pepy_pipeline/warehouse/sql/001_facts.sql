-- The detailed fact table at the grain of the upstream extract, one partition per UTC day so a
-- day can be replaced atomically (REPLACE PARTITION from a verified staging table).
-- Sort key starts with project: every read is "one project, some days".
CREATE TABLE IF NOT EXISTS {database}.downloads_daily
(
    date Date,
    project String,
    version String,
    file_type LowCardinality(Nullable(String)),
    country_code LowCardinality(Nullable(String)),
    installer LowCardinality(Nullable(String)),
    python_minor LowCardinality(Nullable(String)),
    system LowCardinality(Nullable(String)),
    ci Bool,
    downloads UInt64
)
ENGINE = MergeTree
PARTITION BY date
ORDER BY (project, version);

-- One row per successful load of a day: what the source reported, for checks and the UI.
-- ReplacingMergeTree keeps the latest load of each day (read it with FINAL).
CREATE TABLE IF NOT EXISTS {database}.load_log
(
    date Date,
    source LowCardinality(String),
    source_rows UInt64,
    source_downloads UInt64,
    run_id String,
    loaded_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY date;
