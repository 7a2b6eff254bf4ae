"""Commands: preview."""

commands: list = []
