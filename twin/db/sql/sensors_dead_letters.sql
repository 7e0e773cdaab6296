-- The dead letters received at or after %(since)s (an index range on received_at): one row
-- per source and reason with how many and the newest, most frequent first, at most
-- %(limit)s rows; the total of all of them is on every row.
SELECT source,
       reason,
       count(*)                      AS count,
       max(received_at)              AS newest,
       sum(count(*)) OVER ()         AS total
FROM twin.dead_letters
WHERE received_at >= %(since)s::timestamptz
GROUP BY source, reason
ORDER BY count(*) DESC, max(received_at) DESC
LIMIT %(limit)s
