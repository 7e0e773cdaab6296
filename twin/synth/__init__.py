"""The synthetic city: seeded, reproducible layers that no open data provides."""
