-- Every threshold, for the exceedance check of a batch.
SELECT id, property, averaging, value FROM twin.thresholds ORDER BY id
