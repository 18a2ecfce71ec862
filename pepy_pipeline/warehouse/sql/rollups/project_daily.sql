-- One day of per-project totals from a (staged) fact table.
INSERT INTO {target}
SELECT date, project, {measures}
FROM (SELECT date, project, downloads, ci, installer, python_minor, {flags} FROM {facts} WHERE date = {day:Date})
GROUP BY date, project
