DROP TABLE IF EXISTS cov_emitters
