import os
import sys

sys.path.append(os.curdir)
from pelicanconf import *  # noqa: F403 (as Pelican writes it)

SITEURL = "https://old.example.org"
FEED_ALL_RSS = "feeds/all.rss.xml"
FEED_ALL_ATOM = "feeds/all.atom.xml"
