"""Command groups beyond the core ones in `connector.cli`."""
