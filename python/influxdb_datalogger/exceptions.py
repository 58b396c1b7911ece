"""The exceptions influxdb_datalogger raises.

::

    DataLoggerError
     ├── ValidationError (ValueError, AssertionError)     bad input; nothing was stored
     │    ├── InvalidNameError       a name that line protocol cannot carry
     │    ├── InvalidValueError      a value that line protocol cannot carry (NaN, a newline in a tag)
     │    ├── UnknownFieldError      a field the measurement does not define
     │    ├── UnknownTagError        a tag the measurement does not define
     │    ├── SchemaError            a measurement or map that contradicts itself
     │    ├── IncompletePointError   log(): a point lacks a field value or a required tag
     │    └── ArgumentError          arguments that do not fit together
     ├── DataLoggerTypeError (TypeError, AssertionError)  an argument of the wrong type
     ├── ParseError (ValueError)     malformed line protocol
     ├── WriterError                 a writer failed; its data is kept and handed to it again
     └── SpoolFullError              the spool reached its size cap; the point was not logged

Validation errors are also ``AssertionError`` (and type errors too) because the package this one
replaces checked its input with ``assert``: ``except AssertionError`` clauses keep working.
"""

from __future__ import annotations

__all__ = [
    "ArgumentError",
    "DataLoggerError",
    "DataLoggerTypeError",
    "IncompletePointError",
    "InvalidNameError",
    "InvalidValueError",
    "ParseError",
    "SchemaError",
    "SpoolFullError",
    "UnknownFieldError",
    "UnknownTagError",
    "ValidationError",
    "WriterError",
]


class DataLoggerError(Exception):
    """Base of every exception of influxdb_datalogger."""


class ValidationError(DataLoggerError, ValueError, AssertionError):
    """Input that cannot be logged or written; nothing already logged was lost."""


class InvalidNameError(ValidationError):
    """A measurement, field or tag name that line protocol cannot carry."""


class InvalidValueError(ValidationError):
    """A field or tag value that line protocol cannot carry."""


class UnknownFieldError(ValidationError):
    """A field that the measurement does not define."""


class UnknownTagError(ValidationError):
    """A tag that the measurement does not define."""


class SchemaError(ValidationError):
    """A measurement, field, tag or map that contradicts itself."""


class IncompletePointError(ValidationError):
    """``log()`` was given a point without a value for a field or a required tag: the point was
    not logged, and nothing logged before or after it is held back."""


class ArgumentError(ValidationError):
    """Arguments that do not fit together (an event that stops before it starts, ...)."""


class DataLoggerTypeError(DataLoggerError, TypeError, AssertionError):
    """An argument of the wrong type."""


class ParseError(DataLoggerError, ValueError):
    """Line protocol that cannot be parsed."""


class WriterError(DataLoggerError):
    """A writer failed to write; the data is kept for it and handed over again next time."""


class SpoolFullError(DataLoggerError):
    """The spool reached its size cap (``max_bytes``) while the database did not acknowledge;
    the point was not logged. Nothing logged before is lost."""
