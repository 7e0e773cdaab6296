"""The few exception classes of twin; each also subclasses the matching builtin.

The CLI turns any :class:`TwinError` into one readable line on stderr and a
non-zero exit; anything else is a bug and keeps its traceback.
"""


class TwinError(Exception):
    """Base class of every error twin reports to a user."""


class ConfigError(TwinError, ValueError):
    """A setting (environment variable, option) is wrong."""


class SetupError(TwinError, RuntimeError):
    """A system component (PostgreSQL, PostGIS, a tool) is missing or cannot start."""


class DatabaseError(TwinError, ConnectionError):
    """The database cannot be reached or is not a usable PostGIS."""


class DataFileError(TwinError, ValueError):
    """An input file is missing, unreadable or malformed; the message names the file."""


class InvalidGeometry(DataFileError):
    """A feature's geometry is invalid, empty, of the wrong type or outside the city."""
