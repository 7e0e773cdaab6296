"""Loading shipped files into the twin: validation at the boundary, staged merges in SQL."""
