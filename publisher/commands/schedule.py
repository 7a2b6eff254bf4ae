"""Commands: tick, run, queue."""

commands: list = []
