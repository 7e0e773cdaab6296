UPDATE register.users SET disabled = true WHERE name = %(name)s
