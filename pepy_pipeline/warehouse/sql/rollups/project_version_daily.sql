-- One day of per-project, per-version totals from a (staged) fact table.
INSERT INTO {target}
SELECT
    date,
    project,
    version,
    sum(downloads),
    sumIf(downloads, NOT is_mirror),
    sumIf(downloads, ci)
FROM
(
    SELECT date, project, version, downloads, ci,
           ifNull(installer IN ('bandersnatch', 'z3c.pypimirror', 'Artifactory', 'devpi'), 0) AS is_mirror
    FROM {facts}
    WHERE date = {day:Date}
)
GROUP BY date, project, version
