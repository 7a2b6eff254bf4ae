"""Commands for the web site: build, check, new, serve."""

commands: list = []
