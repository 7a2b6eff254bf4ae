"""Commands: check, new."""

commands: list = []
