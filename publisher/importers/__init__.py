"""Importers: a Jekyll, Hugo or Pelican blog becomes posts in our own format.

Each tool's module (`jekyll`, `hugo`, `pelican`) knows its layout, its front matter and
its old addresses, and hands over `ImportedPost`s and what it could not convert
(`model`); `reading` splits the front matter of all three formats, `body` converts (or
reports) what the Markdown holds that is not Markdown, and `writing` writes the posts,
never over an existing file, and counts what happened.
"""
