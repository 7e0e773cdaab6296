-- The dead letters this transaction wrote for one HTTP request (payloads start with its id).
SELECT payload, reason
FROM twin.dead_letters
WHERE received_at = now() AND source = %(source)s AND starts_with(payload, %(prefix)s)
ORDER BY id
LIMIT %(limit)s
