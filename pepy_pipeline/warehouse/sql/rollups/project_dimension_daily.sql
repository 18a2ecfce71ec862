-- One day of per-project breakdowns, one row per (dimension, value), from a (staged) fact table.
-- '' stands for upstream NULL; python_major keeps 'invalid' apart from NULL.
INSERT INTO {target}
SELECT
    date,
    project,
    pair.1 AS dimension,
    pair.2 AS value,
    sum(downloads),
    sumIf(downloads, NOT is_mirror),
    sumIf(downloads, ci)
FROM
(
    SELECT date, project, downloads, ci, is_mirror,
        arrayJoin([
            ('installer', toString(ifNull(installer, ''))),
            ('python_major', multiIf(python_minor IS NULL, '',
                                     python_minor = 'invalid', 'invalid',
                                     splitByChar('.', toString(assumeNotNull(python_minor)))[1])),
            ('python_minor', toString(ifNull(python_minor, ''))),
            ('system', toString(ifNull(system, ''))),
            ('pypistats_system', multiIf(system IS NULL, '',
                                         system IN ('Darwin', 'Linux', 'Windows'), toString(assumeNotNull(system)),
                                         'other')),
            ('country', toString(ifNull(country_code, ''))),
            ('ci', if(ci, 'true', 'false')),
            ('file_type', toString(ifNull(file_type, ''))),
            ('mirror', if(is_mirror, 'true', 'false'))
        ]) AS pair
    FROM
    (
        SELECT *, ifNull(installer IN ('bandersnatch', 'z3c.pypimirror', 'Artifactory', 'devpi'), 0) AS is_mirror
        FROM {facts}
        WHERE date = {day:Date}
    )
)
GROUP BY date, project, dimension, value
