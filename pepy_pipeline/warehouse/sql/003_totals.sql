-- Per-project all-time totals and recent sums, rebuilt whole and swapped in with EXCHANGE TABLES
-- after each load. Small (one row per project): the API keeps it in memory.
CREATE TABLE IF NOT EXISTS {database}.project_totals
(
    project String,
    total_downloads UInt64,
    total_without_mirrors UInt64,
    last_day UInt64,
    last_week UInt64,
    last_month UInt64,
    last_day_without_mirrors UInt64,
    last_week_without_mirrors UInt64,
    last_month_without_mirrors UInt64,
    first_date Date,
    last_date Date,
    as_of Date
)
ENGINE = MergeTree
ORDER BY project;
