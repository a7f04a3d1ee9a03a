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

    def __reduce__(self):  # picklable across worker processes despite the keyword-only field
        return (
            type(self),
            (self.path, self.stage, self.message),
            {"error_class": self.error_class},
        )

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


# Publishing (``cxrhub push``).
__all__ += ["HubAuthError", "HubError", "HubLimitError", "PushRefused", "RepoVisibilityError"]


class PushRefused(CxrhubError, PermissionError):
    """``push`` will not send this folder there: it fails verification, its dataset's access
    policy forbids the requested visibility, or the acknowledgement is missing."""


class RepoVisibilityError(CxrhubError, PermissionError):
    """The Hub repo is not private (or not gated as asked) when it must be: nothing more is sent."""


class HubAuthError(CxrhubError, PermissionError):
    """The Hub answered 401 or 403: the token cannot write to the repo (not retried)."""


class HubLimitError(CxrhubError, ValueError):
    """The layout breaks a hard Hub limit (a file above the maximum size)."""


class HubError(CxrhubError, ConnectionError):
    """A Hub call failed (retries exhausted, or an error that retrying cannot fix).

    Attributes:
        committed: commit batches that landed before the failure (a rerun resumes after them).
    """

    def __init__(self, message: str, *, committed: int = 0):
        self.committed = committed
        super().__init__(message)
