-- One day of per-project breakdowns for ONE dimension, from a (staged) fact table.
-- The value expression is a fixed expression from rollup_dimensions.py; '' stands for upstream
-- NULL. One statement per dimension measured ~1.7x faster than a single arrayJoin over every
-- dimension, with a smaller hash table.
INSERT INTO {target}
SELECT date, project, {dimension} AS dimension, {value} AS dimension_value, {measures}
FROM (SELECT *, {flags} FROM {facts} WHERE date = {day:Date})
GROUP BY date, project, dimension_value
