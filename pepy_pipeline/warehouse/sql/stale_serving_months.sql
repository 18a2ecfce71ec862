-- Months with a day loaded after the month's serving partition was last built (or never built).
SELECT toYYYYMM(l.date) AS month
FROM {database}.load_log AS l FINAL
LEFT JOIN (SELECT month, max(built_at) AS built_at FROM {database}.serving_log GROUP BY month) AS s
    ON toYYYYMM(l.date) = s.month
GROUP BY month
HAVING max(l.loaded_at) > any(s.built_at) OR any(s.built_at) = toDateTime64(0, 3, 'UTC')
ORDER BY month
