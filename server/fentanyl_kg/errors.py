"""The few exceptions fentanyl-kg raises on purpose; everything else is a bug."""

from __future__ import annotations

from pathlib import Path


class KgError(Exception):
    """Base class: an error the user can fix, with a message meant for them."""


class StatementError(KgError):
    """A statement file is malformed or refers to something that does not exist."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else str(self.path)
        super().__init__(f"{where}: {message}")


class StatementErrors(KgError):
    """Several statement errors, reported together so one build shows them all."""

    def __init__(self, errors: list[StatementError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class ValidationFailed(KgError):
    """The built dataset violates the SHACL shapes."""

    def __init__(self, messages: list[str], report_text: str) -> None:
        self.messages = messages
        self.report_text = report_text
        super().__init__("\n".join(messages))


class ReasoningBudgetExceeded(ValidationFailed):
    """The OWL 2 RL closure grew past its budget; the data, not the machine, needs a look."""

    def __init__(self, message: str) -> None:
        super().__init__([message], "")


class QueryError(KgError):
    """A SPARQL query is malformed or not allowed; shown to the client as a 4xx (or a 503 when
    a limit of the server stopped it, then with `retry_after` seconds for Retry-After)."""

    def __init__(self, message: str, status: int = 400, retry_after: int | None = None) -> None:
        self.message = message
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)
