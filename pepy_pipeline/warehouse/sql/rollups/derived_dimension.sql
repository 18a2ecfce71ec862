-- A dimension computed from another one already in the staged rollup (cheap: no fact scan).
INSERT INTO {target}
SELECT date, project, {dimension}, {value} AS derived_value, {resum}
FROM {target}
WHERE date = {day:Date} AND dimension = {source_dimension}
GROUP BY date, project, derived_value
