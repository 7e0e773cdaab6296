"""Live sensor layers: observed properties, datastreams, observations, ingest adapters."""
