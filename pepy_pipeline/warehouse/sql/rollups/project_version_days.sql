-- Each (project, day)'s versions as parallel arrays, sorted by version: what pepy's v2 and pro
-- answers read (<= 120 rows a project by primary key, instead of ~10^5 (day, version) cells to
-- group). Built from committed or staged project_version_daily rows, summing their deltas.
INSERT INTO {target}
SELECT project, date, arrayMap(c -> c.1, cells), arrayMap(c -> c.2, cells), arrayMap(c -> c.3, cells),
       now64(3)
FROM (
    SELECT project, date, arraySort(groupArray((version, n, n - ci))) AS cells
    FROM (
        SELECT project, date, version, sum(downloads) AS n, sum(ci_downloads) AS ci
        FROM {source}
        WHERE date BETWEEN {first:Date} AND {last:Date}
        GROUP BY project, date, version
        HAVING n > 0
    )
    GROUP BY project, date
)
