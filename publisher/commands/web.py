"""Commands: web."""

commands: list = []
