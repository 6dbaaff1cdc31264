"""What the store raises when Kubernetes says no, in the api's own terms, so the views and the
error handlers never see the kubernetes client's exceptions (and a test store can raise them)."""


class StoreError(Exception):
    """A refused read or write; `message` is safe to show to the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(StoreError):
    """The object is not there (any more)."""


class Conflict(StoreError):
    """It already exists, or changed since it was read."""


class Rejected(StoreError):
    """The API server refused the write: `status` is its HTTP status, `fields` maps each
    field to its message."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.fields = fields or {}
