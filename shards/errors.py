"""The package's exceptions: one base class, each subclass also inherits the builtin it refines."""

from __future__ import annotations

__all__ = [
    "BadInputError",
    "ConversionStopped",
    "CxrhubError",
    "MissingSourceError",
    "OutputError",
    "SourceLayoutError",
    "UnknownDatasetError",
]


class CxrhubError(Exception):
    """Base class of every error cxrhub raises on purpose."""


class UnknownDatasetError(CxrhubError, KeyError):
    """A dataset name that is not in the registry."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the sentence readable
        return str(self.args[0]) if self.args else ""


class MissingSourceError(CxrhubError, FileNotFoundError):
    """A file or folder the release must have is not there (checked before any work)."""


class SourceLayoutError(CxrhubError, ValueError):
    """A source table or folder exists but does not look like the release (checked up front)."""


class BadInputError(CxrhubError, ValueError):
    """One sample's input is bad; handled by the run's error policy (error | warn | skip).

    Args:
        path: the source file, relative to the source root where possible.
        stage: the step that failed (``read``, ``decode``, ``plan``, ...).
        message: what was found and what was expected.
    """

    def __init__(self, path: str, stage: str, message: str, *, error_class: str | None = None):
        self.path = path
        self.stage = stage
        self.message = message
        self.error_class = error_class or type(self).__name__
        super().__init__(f"{path}: {stage}: {message}")

    def to_row(self, key: str | None = None) -> dict:
        """The ``errors.jsonl`` row for this error."""
        return {
            "key": key,
            "path": self.path,
            "stage": self.stage,
            "error": self.error_class,
            "message": self.message,
        }


class ConversionStopped(CxrhubError, RuntimeError):
    """The run stopped at a bad input because the policy is ``error``."""


class OutputError(CxrhubError, ValueError):
    """An output folder that cannot be used (a non-empty folder cxrhub did not write)."""
