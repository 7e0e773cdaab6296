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


class InvalidValue(TwinError, ValueError):
    """Values of an asset do not fit its class; ``errors`` maps each field to its problem."""

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


class StaleEdit(TwinError, RuntimeError):
    """An edit was made on an older version than the register holds; nothing was saved."""

    def __init__(self, message: str, changes: list[str] | None = None) -> None:
        super().__init__(message)
        self.changes = changes or []


class AccessDenied(TwinError, PermissionError):
    """The user is not signed in, or their role may not do this."""


class Unauthenticated(AccessDenied):
    """A request to the HTTP API carries no token, or one that is unknown or revoked."""


def tool_message(output: str) -> str:
    """Return the line of a tool's stderr that says what went wrong.

    Prefers a line with ``error:``/``FATAL:``/``ERROR:`` (pg_dump, pg_restore, psql, libpq),
    else the first non-empty line; never a hint such as "Is the server running…".
    """
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    for marker in ("error:", "FATAL:", "ERROR:"):
        for line in lines:
            if marker in line:
                return line
    return lines[0] if lines else "no output"


def exception_reason(exc: BaseException) -> str:
    """Return the first line of an exception's message (its class name when empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
