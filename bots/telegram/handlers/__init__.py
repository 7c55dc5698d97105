"""One module per intent; ``bots/telegram/app.py`` registers them all in one place."""
