AUTHOR = "Riverbend"
SITENAME = "Old Clinic Notes"
PATH = "content"
TIMEZONE = "America/Chicago"
DEFAULT_LANG = "en"
FEED_ALL_ATOM = None  # no feeds while writing
