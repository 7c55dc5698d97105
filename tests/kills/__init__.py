"""Kill tests: the real bot in its own process, SIGKILLed at a chosen moment, restarted."""
