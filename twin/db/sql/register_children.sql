-- Assets whose parent is the given asset (a sensor on a container, a lamp on a pole, ...).
SELECT class, id, name, state FROM register.assets WHERE parent_id = %(id)s ORDER BY class, id
