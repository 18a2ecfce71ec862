-- One day of per-project, per-version totals from a (staged) fact table.
INSERT INTO {target}
SELECT date, project, version, {measures}
FROM (SELECT date, project, version, downloads, ci, installer, python_minor, {flags} FROM {facts} WHERE date = {day:Date})
GROUP BY date, project, version
