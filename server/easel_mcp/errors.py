"""Every failure Easel knows about, as one hierarchy.

    EaselError                      base: `str(err)` is written for the agent (what to change)
    ├── ConfigurationError          the server is set up wrongly (missing key, bad setting)
    │   └── LedgerUnreadable        the ledger file cannot be opened or read (names the file, what to do)
    ├── InvalidRequest              caught before any request leaves the machine
    │   └── BudgetExceeded          the call would break a configured spending limit
    ├── AnswerNotSaved              the upstream answered (and billed) but the images could not all be saved
    ├── ImagingError                the pixel layer: an image, mask or geometry it cannot honour
    │                               (defined in `easel_mcp.imaging.errors`; also a ValueError)
    ├── WorkspaceError              files: a path outside the sandbox, a missing image
    │   ├── PathNotAllowed
    │   ├── ImageNotFound
    │   └── FileTooLarge            a workspace file over the size Easel reads
    └── ProviderError               the upstream answered with a failure (status, request_id, code)
        ├── AuthenticationFailed    401: bad or missing key
        ├── OrganizationNotVerified 403: the model needs a verified organisation
        ├── ModerationBlocked       the safety system refused the prompt or image
        ├── ModelNotFound           404: the upstream does not serve the model
        ├── QuotaExceeded           429 insufficient_quota: billing, not speed
        ├── RateLimited             429 rate_limit_exceeded (retry_after seconds)
        ├── UpstreamRejected        another 4xx: the request was refused (param says which field)
        └── UpstreamUnavailable     5xx, connection failures, timeouts, unreadable answers

Errors carry fields; the message is built from them. The conversion to the MCP
`ToolError` happens in exactly one place (`easel_mcp.tools.common.tool_errors`).
"""

from __future__ import annotations

from typing import Any


class EaselError(Exception):
    """Base of every error Easel raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigurationError(EaselError):
    """The server's configuration does not allow this call."""


class DatabaseUnavailable(EaselError):
    """The ledger's database (PostgreSQL) could not be reached or answered an error."""


class LedgerUnreadable(ConfigurationError):
    """The ledger database cannot be opened or read; the message names the file and what to do."""


class AnswerNotSaved(EaselError):
    """The upstream answered, and billed, but its images could not all be saved (a full disk, an
    undecodable answer). The message states the cost, the request id and the images saved."""

    def __init__(self, message: str, *, request_id: str | None, cost_usd: float | None, saved: list[str]) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.cost_usd = cost_usd
        self.saved = saved


class InvalidRequest(EaselError):
    """The arguments cannot be sent as they are; `field` names the argument at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class BudgetExceeded(InvalidRequest):
    """The call's upper estimate would break a spending limit."""

    def __init__(self, message: str, *, limit_usd: float, estimate_usd: float, left_usd: float) -> None:
        super().__init__(message, field=None)
        self.limit_usd = limit_usd
        self.estimate_usd = estimate_usd
        self.left_usd = left_usd


class WorkspaceError(EaselError):
    """A file operation that the sandbox refuses or cannot do."""


class PathNotAllowed(WorkspaceError):
    """The path resolves outside the workspace and the allowed input folders."""


class ImageNotFound(WorkspaceError):
    """No image with that id or path exists in the workspace."""


class FileTooLarge(WorkspaceError):
    """A workspace file is bigger than what Easel reads for this purpose."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        super().__init__(
            f"{what} is {size / 2**20:.1f} MB, over the {limit / 2**20:.1f} MB that Easel reads here: "
            "use a smaller file (or open the file itself)"
        )
        self.size = size
        self.limit = limit


class ProviderError(EaselError):
    """The upstream image service answered with a failure."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        param: str | None = None,
        billed: bool = False,
        usage: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.code = code
        self.request_id = request_id
        self.param = param
        self.billed = billed
        self.usage = usage  # the usage block of an answer that came back but could not be used

    def __str__(self) -> str:
        return self.message + (f" (request id {self.request_id})" if self.request_id else "")


class AuthenticationFailed(ProviderError):
    pass


class OrganizationNotVerified(ProviderError):
    pass


class ModerationBlocked(ProviderError):
    pass


class ModelNotFound(ProviderError):
    pass


class QuotaExceeded(ProviderError):
    pass


class RateLimited(ProviderError):
    def __init__(self, message: str, *, retry_after_s: float | None = None, **fields: object) -> None:
        super().__init__(message, **fields)  # type: ignore[arg-type]
        self.retry_after_s = retry_after_s


class UpstreamRejected(ProviderError):
    pass


class UpstreamUnavailable(ProviderError):
    """Transient: 5xx, connection failure, timeout. `sent` says whether the request left the machine."""

    def __init__(self, message: str, *, sent: bool = True, **fields: object) -> None:
        super().__init__(message, **fields)  # type: ignore[arg-type]
        self.sent = sent
