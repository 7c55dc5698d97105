"""Telegram's rate limits, as the bot spends them."""

ESSENTIAL_RETRIES = 1_000
"""``rate_limit_args`` of a call the upload cannot do without (the answer, getFile): the
429s it waits out (each for Telegram's ``retry_after``), in effect until it goes
through. Progress calls get the rate limiter's default and are skipped beyond it."""
