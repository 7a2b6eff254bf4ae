"""Plugin tags, includes and shortcodes that have a faithful Markdown equivalent, converted
where they stand (the rest is reported by `body`).

Pictures: Octopress' and Pelican's `{% img [class] /a.png [width [height]] [title [alt]] %}`
and Jekyll includes that show one (`{% include figure image_path="/a.png" alt="..." %}`,
`{% include image.html url="/a.png" description="..." %}`) become `![alt](/a.png "title")`.
Videos become a plain link, never an embedded player or a thumbnail from the video site,
which would tell it who reads the post: `{% youtube ID %}`, `{% vimeo ID %}`, Hugo's
`{{< youtube ID >}}` and `{{< vimeo ID >}}`, `{% include youtube.html id="ID" %}` and
`{% include video id="ID" provider="vimeo" %}`. A video file (`{% video /a.mp4 [width
height] [/poster.png] %}`) becomes a link, its poster a linked picture. The pictures and
files these name are then copied like any other (`media`). Pelican's `{% literal img
... %}`, which shows a tag as written, becomes that tag in `code`.
"""

from __future__ import annotations

import re
import shlex

_LIQUID = re.compile(
    r"\{%-?\s*(?P<name>img|youtube|vimeo|video|include|literal)\s+(?P<args>.*?)\s*-?%\}"
)
_SHORTCODE = re.compile(r"\{\{<\s*(?P<name>youtube|vimeo)\s+(?P<args>.*?)\s*/?>\}\}")
_IMG = re.compile(
    r"^(?:\S.*?\s+)?(?P<src>(?:https?://|/|\S+/)\S+)(?:\s+\d+)?(?:\s+\d+)?(?:\s+(?P<title>.+))?$"
)
_TITLE_ALT = re.compile(r"""^["'](?P<title>[^"']*)["']\s+["'](?P<alt>[^"']*)["']$""")
_PARAMETER = re.compile(r"""(\w+)\s*=\s*(?:"([^"]*)"|'([^']*)'|(\S+))""")
_VIDEO_ID = re.compile(r"(?:[?&]v=|youtu\.be/|/embed/|vimeo\.com/(?:video/)?)([\w-]+)")
_PICTURE_KEYS = ("image_path", "url", "src", "path", "file", "image")
_WORDS_KEYS = ("alt", "description", "caption", "title")
SITES = {
    "youtube": ("YouTube", "https://www.youtube.com/watch?v={}"),
    "vimeo": ("Vimeo", "https://vimeo.com/{}"),
}
_PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".avif")


def convert(line: str) -> str:
    """`line` with each tag that has an equivalent replaced by it."""
    line = _LIQUID.sub(lambda m: _liquid(m) or m.group(0), line)
    return _SHORTCODE.sub(
        lambda m: _video(m.group("name"), _arguments(m.group("args"))) or m.group(0), line
    )


def _liquid(match: re.Match[str]) -> str | None:
    name, args = match.group("name"), match.group("args")
    if name == "img":
        return _img(args)
    if name == "video":
        return _video_file(args.split())
    if name == "include":
        return _include(args)
    if name == "literal":  # Pelican's: shows a tag as written, as code does
        return f"`{{% {args} %}}`"
    return _video(name, _arguments(args))


def _img(args: str) -> str | None:
    """Octopress' syntax: [class] src [width [height]] [title ["alt"]]."""
    found = _IMG.match(args.strip())
    if not found:
        return None
    title = (found.group("title") or "").strip()
    both = _TITLE_ALT.match(title)
    if both:
        title, alt = both.group("title"), both.group("alt")
    else:
        title = alt = title.strip("\"'[]")
    return _picture(found.group("src"), alt, "" if title == alt else title)


def _picture(src: str, alt: str, title: str = "") -> str:
    shown = alt.replace("[", "").replace("]", "")
    titled = ' "' + title.replace('"', "'") + '"' if title else ""
    return f"![{shown}]({src}{titled})"


def _include(args: str) -> str | None:
    """An include that shows a picture or a video, by its name and parameters."""
    name, _, rest = args.partition(" ")
    name, values = name.lower(), dict(_named(rest))
    picture = next((values[key] for key in _PICTURE_KEYS if values.get(key)), "")
    if picture and any(word in name for word in ("image", "img", "figure", "picture", "photo")):
        return _picture(picture, next((values[k] for k in _WORDS_KEYS if values.get(k)), ""))
    site = values.get("provider", "").lower() or next((s for s in SITES if s in name), "")
    if "id" in values and site in SITES:
        return _link(site, values["id"])
    return None


def _video(name: str, args: list[str]) -> str | None:
    """`youtube ID`, `vimeo ID` (or `id=ID`, or the video's address) as a link."""
    values = dict(_named(" ".join(args)))
    given = values.get("id") or next((a for a in args if "=" not in a or "/" in a), "")
    found = _VIDEO_ID.search(given)
    video = found.group(1) if found else given
    return _link(name, video) if re.fullmatch(r"[\w-]+", video or "") else None


def _link(site: str, video: str) -> str:
    name, address = SITES[site]
    return f"[Watch the video on {name}]({address.format(video)})"


def _video_file(args: list[str]) -> str | None:
    """`video /a.mp4 [width height] [/poster.png]`: a link, the poster a linked picture."""
    files = [a for a in args if not a.isdigit()]
    if not files:
        return None
    poster = next((a for a in files[1:] if a.lower().endswith(_PICTURE_SUFFIXES)), "")
    return (
        f"[![Play the video]({poster})]({files[0]})" if poster else f"[Watch the video]({files[0]})"
    )


def _arguments(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _named(text: str) -> list[tuple[str, str]]:
    return [
        (m.group(1).lower(), m.group(2) or m.group(3) or m.group(4) or "")
        for m in _PARAMETER.finditer(text)
    ]
