-- On a ClickHouse server each publish copies the served tables into a database of its own (hard
-- links to the live parts: pepy_warehouse/server_generation.py), so the API reads exactly what was
-- published while later days commit into the live tables. publish_log names that database and the
-- row counts the API checks before it switches to it. Empty in embedded mode (a frozen generation
-- and its manifest instead).
ALTER TABLE {database}.publish_log ADD COLUMN IF NOT EXISTS serving_database String DEFAULT '';
ALTER TABLE {database}.publish_log ADD COLUMN IF NOT EXISTS serving_rows String DEFAULT '';
