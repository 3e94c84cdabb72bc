"""The hub's command handlers, one module per subject; core/commands.py lists them in COMMANDS."""
