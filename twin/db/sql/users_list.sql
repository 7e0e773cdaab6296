SELECT name, full_name, role, created_at, disabled FROM register.users ORDER BY name
