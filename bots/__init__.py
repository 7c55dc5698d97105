"""Front-ends over core: the shell (``picloud-bots``), later Telegram and Discord."""
