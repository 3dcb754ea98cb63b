"""Subcommands of the `counselsim` command line."""
