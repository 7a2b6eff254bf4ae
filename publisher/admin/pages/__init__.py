"""The console's server-rendered pages (templates in `templates/admin/`): each module a
router of pages, each page declaring its permission like an API route does."""
