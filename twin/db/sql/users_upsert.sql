-- Create a user or reset the password, role and name of an existing one.
INSERT INTO register.users (name, full_name, role, password_hash)
VALUES (%(name)s, %(full_name)s, %(role)s, %(hash)s)
ON CONFLICT (name) DO UPDATE SET
    full_name = coalesce(EXCLUDED.full_name, register.users.full_name),
    role = EXCLUDED.role, password_hash = EXCLUDED.password_hash, disabled = false
