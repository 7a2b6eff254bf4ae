"""Commands for the web site: build, serve."""

commands: list = []
