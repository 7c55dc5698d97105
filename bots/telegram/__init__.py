"""The Telegram front-end: python-telegram-bot over the core upload service."""
