"""The front matter keys a post may have: declared once, read by the parser and the docs.

`frontmatter.KEYS` (what the parser knows, and names in its "unknown key" warning) and the
generated reference page (`docs/reference/front-matter.md`) both come from `FRONT_MATTER`,
so a key added here is parsed-as-known and documented at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    """One front matter key: its name, whether a post must have it, and what it means."""

    name: str
    required: bool
    doc: str  # Markdown, shown in the reference


FRONT_MATTER = (
    Key(
        "title",
        True,
        "The headline. Quote it if it contains `: ` or starts with a quote or `[`. It becomes "
        "an email's subject, so it must be one line (no line break or control character).",
    ),
    Key(
        "date",
        True,
        "Publish time. `2026-03-02 09:00` (or `2026-03-02`, midnight) is in the site's time "
        "zone; `2026-03-02T09:00:00+01:00` or `...Z` gives an explicit offset. A future date "
        "queues the post: it goes live, and is emailed, at that time.",
    ),
    Key(
        "tags",
        False,
        "A list `[sleep, anxiety]` or a comma string `sleep, anxiety`. Each tag is text (quote "
        'numbers: `"2024"`).',
    ),
    Key(
        "summary",
        False,
        "Plain text for the index, feeds and emails. Default: the first paragraph.",
    ),
    Key(
        "slug",
        False,
        "The post's address, `/posts/<slug>/`. Default: from the title (`Sleep & Mood: What's "
        "New?` -> `sleep-mood-whats-new`). Used as written (letters, digits, `.`, `_`, `~`, "
        "`-`) or refused with the reason, never changed silently.",
    ),
    Key("author", False, "Shown on the page and in feeds."),
    Key(
        "image",
        False,
        "A picture for the post, its email (full text or excerpt, and the digest) and social "
        "cards, e.g. `/static/images/sleep.png`: a PNG, JPEG or GIF, since Gmail and Outlook "
        "do not show SVG, WebP or AVIF (`check` reports them, and a missing file).",
    ),
    Key(
        "image_alt",
        False,
        "What the picture shows, for people who cannot see it: the alt text of its card and "
        "email image (empty alt, a decorative picture, when left out).",
    ),
    Key(
        "description",
        False,
        "For search engines (`<meta name=description>`). Default: the summary.",
    ),
    Key(
        "draft",
        False,
        "`true` keeps the post off the site, feeds and emails whatever its date (`publisher "
        "build --drafts` previews it).",
    ),
    Key(
        "email",
        False,
        "`false`: never email this post, neither announced nor in a digest (default `true`); "
        "its email decision says so.",
    ),
    Key(
        "email_at",
        False,
        "When the announcement goes out, if not when the post goes live: written as `date` "
        "is (site time, or with an offset). The page goes live at `date`; the email at "
        "`email_at`, never before `date` (`check` refuses one before it), and the digest "
        "takes the post after it.",
    ),
    Key(
        "email_subject",
        False,
        "The email's subject, instead of the title (the page keeps the title). One line; "
        "`check` warns about one too long or in capitals, as it does about titles.",
    ),
    Key(
        "email_preheader",
        False,
        "The line mail apps show after the subject, instead of the summary (email only).",
    ),
    Key(
        "email_only",
        False,
        "`true` makes a letter: emailed (same queue, topics, test sends and decisions) and "
        "kept in the newsletter archive, but no blog page, no feed entry, no tag page.",
    ),
    Key(
        "aliases",
        False,
        "Old addresses of the post, site-relative: `[/2019/05/01/old-post.html, "
        "/blog/old-post/]`. Each becomes a small redirect page in the built site (a meta "
        "refresh to the post, a canonical link, a plain link, `noindex`): a path ending in "
        "`.html` is written as that file, any other as `<path>/index.html` (so `/old` and "
        "`/old/` are one address, listed once). A path that leaves "
        "the site (`..`, another domain, `?`/`#`) or is a page, feed or static file of the "
        "site is an error naming the file and line. A draft's or queued post's aliases are "
        "written once it is live (and in `--drafts`/`--future` previews).",
    ),
)
