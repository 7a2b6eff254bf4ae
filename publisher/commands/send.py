"""Commands: send, campaigns."""

commands: list = []
