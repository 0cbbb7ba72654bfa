"""Package logging: one handler on the ``multiscale`` logger, quiet on request."""
from __future__ import annotations

import logging


def configure_logging(*, quiet: bool = False, verbose: bool = False) -> logging.Logger:
    """Configure the ``multiscale`` logger for command-line use and return it."""
    logger = logging.getLogger("multiscale")
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    logger.setLevel(level)
    if not any(getattr(h, "_multiscale", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._multiscale = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    return logger
