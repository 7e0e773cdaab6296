-- Fragment: an active sensor of kind %(flag_sensor)s is mounted on the asset t.
EXISTS (SELECT 1 FROM register.sensor s
        WHERE s.parent_id = t.id AND s.state = 'active' AND s.kind = %(flag_sensor)s)
