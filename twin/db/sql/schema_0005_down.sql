DROP TABLE IF EXISTS twin.api_tokens;
