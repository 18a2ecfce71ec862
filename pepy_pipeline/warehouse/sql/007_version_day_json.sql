-- Each version-days row carries its day's piece of pepy's JSON answer, `"<day>":{"<version>":n,..}`
-- ('' when no version has a download), computed once when the row is written instead of on every
-- v2/pro request (issue 8: at real size building it per request was most of their 80-240 ms).
-- MATERIALIZED, so every insert fills them from the row's own arrays (a cell can never disagree
-- with its arrays); parts written before this migration compute them on read, as before.
-- Numbers through toString, so no JSON output setting can quote them.
ALTER TABLE {database}.project_version_days
    ADD COLUMN IF NOT EXISTS downloads_json String MATERIALIZED if(
        arrayExists(n -> n > 0, downloads),
        concat('"', toString(date), '":{',
               arrayStringConcat(arrayFilter(c -> c != '', arrayMap((v, n) -> if(n > 0, concat(toJSONString(v), ':', toString(n)), ''), versions, downloads)), ','),
               '}'),
        '') CODEC(ZSTD(3)),
    ADD COLUMN IF NOT EXISTS not_ci_json String MATERIALIZED if(
        arrayExists(n -> n > 0, not_ci_downloads),
        concat('"', toString(date), '":{',
               arrayStringConcat(arrayFilter(c -> c != '', arrayMap((v, n) -> if(n > 0, concat(toJSONString(v), ':', toString(n)), ''), versions, not_ci_downloads)), ','),
               '}'),
        '') CODEC(ZSTD(3));
