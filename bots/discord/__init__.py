"""The Discord front-end: discord.py's app commands over the core upload service."""
