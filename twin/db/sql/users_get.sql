SELECT role, password_hash, disabled FROM register.users WHERE name = %(name)s
