-- The KPI queries are short spatial joins: JIT compilation would cost more than it saves.
SET jit = off
