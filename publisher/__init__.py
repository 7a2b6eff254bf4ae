"""publisher: Markdown posts to a web site, feeds and email newsletters, sent on time and exactly once."""

__version__ = "0.1.0"
