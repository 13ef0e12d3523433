"""The one exception type users see: a clear, one-line message about bad input or a missing capability."""


class CPPNError(ValueError):
    """Bad input or an unavailable capability; the CLI prints its message and exits 2."""
