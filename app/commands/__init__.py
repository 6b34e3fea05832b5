"""Command groups of the CLI, one module each, registered in ``app.cli.COMMAND_MODULES``."""
