-- The first loaded day of each publish, as an embedded generation's manifest records it: with a
-- gap in the history, days loaded before the first complete day count in a summary's
-- downloads_before_first_complete_day. Without it, the API on a server had to ask the engine
-- for that sum at every summary, gap or not. NULL for publishes from before this migration (the
-- API then asks).
ALTER TABLE {database}.publish_log ADD COLUMN IF NOT EXISTS first_loaded_day Nullable(Date);
