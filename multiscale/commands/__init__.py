"""Command groups of the ``multiscale`` CLI, one module per layer (thin wrappers)."""
