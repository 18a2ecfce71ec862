-- One day of per-project totals from a (staged) fact table.
INSERT INTO {target}
SELECT
    date,
    project,
    sum(downloads),
    sumIf(downloads, NOT is_mirror),
    sumIf(downloads, ci)
FROM
(
    SELECT date, project, downloads, ci,
           ifNull(installer IN ('bandersnatch', 'z3c.pypimirror', 'Artifactory', 'devpi'), 0) AS is_mirror
    FROM {facts}
    WHERE date = {day:Date}
)
GROUP BY date, project
