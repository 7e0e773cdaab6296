"""twin: a PostGIS-backed geospatial digital twin and asset register for Maribor."""

from twin._errors import (
    ConfigError,
    DatabaseError,
    DataFileError,
    InvalidGeometry,
    SetupError,
    TwinError,
)

__all__ = [
    "ConfigError",
    "DataFileError",
    "DatabaseError",
    "InvalidGeometry",
    "SetupError",
    "TwinError",
]
__version__ = "0.1.0"
