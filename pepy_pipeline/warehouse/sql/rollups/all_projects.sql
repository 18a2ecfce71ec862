-- Adds the '__all__' pseudo-project (the sum over every project) to a staged per-project rollup.
-- {keys} lists the rollup's key columns after date and project. No alias on '__all__': it
-- would shadow the project column in WHERE.
INSERT INTO {target}
SELECT date, '__all__', {keys} {resum}
FROM {target}
WHERE date = {day:Date} AND project != '__all__'
GROUP BY ALL
