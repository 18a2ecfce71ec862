-- Per-project totals and recent sums as of the last loaded day {as_of}.
INSERT INTO {target}
SELECT
    project,
    sum(downloads),
    sum(downloads_without_mirrors),
    sumIf(downloads, date = {as_of:Date}),
    sumIf(downloads, date > {as_of:Date} - 7),
    sumIf(downloads, date > {as_of:Date} - 30),
    sumIf(downloads_without_mirrors, date = {as_of:Date}),
    sumIf(downloads_without_mirrors, date > {as_of:Date} - 7),
    sumIf(downloads_without_mirrors, date > {as_of:Date} - 30),
    min(date),
    max(date),
    {as_of:Date}
FROM {source}
WHERE date <= {as_of:Date}
GROUP BY project
