"""`publisher import jekyll|hugo|pelican`: small blogs in each tool's own layout
(tests/data/blogs/) become posts; drafts stay drafts, every old address answers with a
redirect in the built site (followed over real HTTP), everything that cannot be converted
is reported with its file and line, and a second run writes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import feedparser
import pytest

from conftest import REPO, follow_redirect, png, run_publisher, serve_folder, write_post

NOW = "2026-04-01T12:00:00Z"
BLOGS = REPO / "tests" / "data" / "blogs"


KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-secret-key-material\n"
KEY += "-----END PRIVATE KEY-----\n"
POST_FOLDERS = {"jekyll": "_posts", "hugo": "content/posts", "pelican": "content"}


def assert_key_nowhere(site: Path, build: bool = True) -> None:
    """The key is in no post, no built page, feed or sitemap."""
    done = run_publisher("build", "--now", NOW, cwd=site) if build else None
    assert done is None or done.returncode == 0, done.stderr
    for folder in ("posts", "public"):
        for path in (site / folder).rglob("*"):
            if path.is_file():
                assert b"secret-key-material" not in path.read_bytes(), path


def import_blog(site: Path, tool: str):
    """Copy the tool's blog into the site as old/<tool>, with a post that is a symlink to
    a key file out of the tree, and import it from there."""
    shutil.copytree(BLOGS / tool, site / "old" / tool)
    (site / "config" / "dkim.pem").write_text(KEY)
    linked = site / "old" / tool / POST_FOLDERS[tool] / "2020-03-03-key.md"
    linked.symlink_to(site / "config" / "dkim.pem")
    return run_publisher("import", tool, f"old/{tool}", "--now", NOW, cwd=site)


def linked_key(tool: str) -> str:
    """The line that names the symlink `import_blog` planted."""
    return (
        f"skipped: old/{tool}/{POST_FOLDERS[tool]}/2020-03-03-key.md: a symbolic link, not "
        "followed (an import reads only the files inside the folder it is given); copy the "
        "file itself in to import it"
    )


def front(site: Path, name: str) -> str:
    return (site / "posts" / name).read_text().split("---\n")[1]


def assert_copied(site: Path, tool: str, files: set[str] | dict[str, str]) -> None:
    """The files posts use are in the site's static folder, the bytes of the old blog's
    (a set: at the same path under the old site's root)."""
    roots = {"jekyll": "", "hugo": "", "pelican": "content/"}
    for new in files:
        old = files[new] if isinstance(files, dict) else roots[tool] + new
        copied = site / "templates" / "site" / "static" / new
        assert copied.read_bytes() == (BLOGS / tool / old).read_bytes(), new


def assert_redirects(site: Path, old_to_new: dict[str, str], feeds: dict[str, str]) -> None:
    """Build the site, serve it, follow every old address to its post, and read the feed
    at each old feed address (path -> feedparser's version) as a feed reader would."""
    done = run_publisher("build", "--now", NOW, cwd=site)
    assert done.returncode == 0, done.stderr
    with serve_folder(site / "public") as base:
        for old, new in old_to_new.items():
            url, html = follow_redirect(base + old)
            assert url == f"{base}/posts/{new}/", old
        ours = feedparser.parse(f"{base}/feed.xml")
        for path, version in feeds.items():
            feed = feedparser.parse(base + path)
            assert (feed.bozo, feed.version, feed.get("status")) == (0, version, 200), path
            assert [e.link for e in feed.entries] == [e.link for e in ours.entries], path
    config = (site / "config" / "site.toml").read_text()
    assert f"old_feeds = {', '.join(feeds)!r}".replace("'", '"') in config
    assert_key_nowhere(site, build=False)


def assert_not_published(site: Path, slugs: list[str]) -> None:
    """Drafts: no page, not in the feed, not queued for an email, and refused by send."""
    public = site / "public"
    queue = run_publisher("queue", "--json", "--now", NOW, cwd=site)
    queued = {post["slug"] for post in json.loads(queue.stdout)["posts"]}
    for slug in slugs:
        assert not (public / "posts" / slug).exists()
        assert f"/posts/{slug}/" not in (public / "feed.xml").read_text()
        assert slug not in queued
        sent = run_publisher("send", slug, "--dry-run", "--now", NOW, cwd=site)
        assert sent.returncode == 2 and "a draft is never sent" in sent.stderr


def test_jekyll(site: Path) -> None:
    done = import_blog(site, "jekyll")
    assert done.returncode == 0, done.stderr
    posts = "old/jekyll/_posts"
    assert done.stdout.splitlines() == [
        linked_key("jekyll"),
        f"skipped: {posts}/notes.txt: not a post, and no post links to it",
        "fix: old/jekyll/_drafts/half-done.md:1: no date: imported as a draft dated now; "
        "set date: and remove draft: true",
        f"fix: {posts}/2019-05-01-welcome-to-the-clinic.markdown:14: Liquid output "
        "{{ site.baseurl }} cannot be converted; write the value itself",
        f"fix: {posts}/2019-05-01-welcome-to-the-clinic.markdown:18: picture "
        "/assets/img/lobby.jpg: no such file (old/jekyll/assets/img/lobby.jpg); the link is "
        "kept as written",
        f"fix: {posts}/2019-05-01-welcome-to-the-clinic.markdown:20: TeX math (1 formula: "
        "$$...$$, \\(...\\)) is shown as written: publisher does not render math; write it "
        "out or show it as a picture where readers need it rendered",
        f"fix: {posts}/2019-07-04-we-moved.md:10: Liquid tag {{% include map.html zoom=3 %}} "
        "cannot be converted; write its result as Markdown or HTML",
        "fix: old/jekyll/blog/_posts/2019-08-01-in-a-folder.mkd:3: image: "
        "/assets/img/cover.jpg: no such file (old/jekyll/assets/img/cover.jpg); imported "
        "without it",
        "note: categories became tags (publisher has tags only): 1 post",
        "note: left out the key 'layout' (publisher does not use it): 1 post",
        "note: the feed is also written at /atom.xml, its old address ([site] old_feeds in "
        "config/site.toml)",
        "imported 5 posts (2 drafts), copied 2 files, skipped 2 files, 6 things to fix by "
        "hand; publisher check: no errors",
    ]
    assert_copied(site, "jekyll", {"assets/img/clinic.png", "assets/leaflet.pdf"})
    assert sorted(p.name for p in (site / "posts").iterdir()) == [
        "2019-05-01-welcome-to-the-clinic.md",
        "2019-06-10-secret-plans.md",
        "2019-07-04-we-moved.md",
        "2019-08-01-in-a-folder.md",
        "2026-04-01-half-done.md",  # no date in _drafts/: dated now (site time), a draft
    ]
    assert front(site, "2019-05-01-welcome-to-the-clinic.md") == (
        'title: "Welcome to the clinic!"\n'
        "date: 2019-05-01\n"
        'tags: ["welcome", "news", "update"]\n'
        "slug: welcome-to-the-clinic\n"
        "aliases:\n"
        '  - "/news/update/2019/05/01/welcome-to-the-clinic.html"\n'
    )
    welcome = (site / "posts" / "2019-05-01-welcome-to-the-clinic.md").read_text()
    assert '```ruby\nputs "hello"\n```' in welcome  # {% highlight %} became a code fence
    assert (  # {{ site.baseurl }}, the old site's own host: the files' new addresses
        "![Our waiting room](/static/assets/img/clinic.png) ([full size]"
        "(/static/assets/img/clinic.png))\n\nTake [the leaflet](/static/assets/leaflet.pdf "
        '"Leaflet") and see <img src="/assets/img/lobby.jpg" alt="The lobby">.' in welcome
    )
    assert "date: 2019-07-04T15:30:00+02:00\n" in front(site, "2019-07-04-we-moved.md")
    moved = (site / "posts" / "2019-07-04-we-moved.md").read_text()
    assert (  # includes and plugin tags for pictures and videos
        "![The new office](/static/assets/img/clinic.png)\n\n"
        "[Watch the video on Vimeo](https://vimeo.com/76979871) and "
        "[Watch the video on YouTube](https://www.youtube.com/watch?v=w7Ft2ymGmfc)" in moved
    )
    assert (  # links to other posts of the import: their new addresses
        "Read [our welcome](/posts/welcome-to-the-clinic/) and "
        "[the folder post](/posts/in-a-folder/) first." in moved
    )
    assert "draft: true\n" in front(site, "2019-06-10-secret-plans.md")
    assert "draft: true\n" in front(site, "2026-04-01-half-done.md")
    assert run_publisher("check", "--now", NOW, cwd=site).returncode == 0
    assert_redirects(
        site,
        {
            "/news/update/2019/05/01/welcome-to-the-clinic.html": "welcome-to-the-clinic",
            "/about-moving/": "we-moved",  # permalink: in the post
            "/blog/2019/08/01/in-a-folder.html": "in-a-folder",  # category from the folder
            "/folder-post/": "in-a-folder",  # redirect_from: [/folder-post/, /folder-post]
            "/folder-post": "in-a-folder",
        },
        feeds={"/atom.xml": "atom10"},  # Octopress' feed template; /feed.xml is ours too
    )
    assert_not_published(site, ["secret-plans", "half-done"])


def test_hugo(site: Path) -> None:
    done = import_blog(site, "hugo")
    assert done.returncode == 0, done.stderr
    content = "old/hugo/content"
    assert done.stdout.splitlines() == [
        linked_key("hugo"),
        f"skipped: {content}/_index.md: a page outside any section, not a post",
        f"skipped: {content}/about.md: a page outside any section, not a post",
        f"skipped: {content}/posts/bundle/notes.txt: not a post, and no post links to it",
        f"fix: {content}/posts/bundle/index.md:10: Hugo shortcode {{{{% notice info %}}}} "
        "cannot be converted; write its result as Markdown or HTML",
        f"fix: {content}/posts/bundle/index.md:12: Hugo shortcode {{{{% /notice %}}}} "
        "cannot be converted; write its result as Markdown or HTML",
        f"fix: {content}/posts/first-post.md:24: picture /images/gone.png: no such file "
        "(old/hugo/static/images/gone.png); the link is kept as written",
        f"fix: {content}/posts/first-post.md:28: Hugo shortcode {{{{< gist spf13 7896402 >}}}} "
        "cannot be converted; write its result as Markdown or HTML",
        f"fix: {content}/posts/first-post.md:30: TeX math (2 formulas: $$...$$, \\(...\\)) is "
        "shown as written: publisher does not render math; write it out or show it as a "
        "picture where readers need it rendered",
        "note: <!--more--> became the summary: 1 post",
        "note: categories (and series) became tags (publisher has tags only): 1 post",
        "note: custom taxonomies (topics) became tags: 1 post",
        "note: the feed is also written at /index.xml, /notes/index.xml, /posts/index.xml, "
        "its old addresses ([site] old_feeds in config/site.toml)",
        "imported 5 posts (1 draft), copied 2 files, skipped 4 files, 5 things to fix by "
        "hand; publisher check: no errors",
    ]
    assert_copied(site, "hugo", {"images/team.png": "static/images/team.png"})
    assert_copied(site, "hugo", {"posts/bundle/cover.jpg": "content/posts/bundle/cover.jpg"})
    first = (site / "posts" / "2020-02-03-first-post.md").read_text()
    assert first.startswith(
        "---\n"
        'title: "First post"\n'
        "date: 2020-02-03T09:30:00+01:00\n"
        'tags: ["welcome", "news", "Sleep", "Rest"]\n'  # topics: a custom taxonomy
        "slug: first-post\n"
        'summary: "This is the part before the fold, with bold text."\n'
        "aliases:\n"
        '  - "/old/first/"\n'
        '  - "/posts/first-again"\n'
        "---\n"
    )  # /posts/first-post/, Hugo's default address, is the new one: no redirect needed
    assert "<!--more-->" not in first and '```go\nfmt.Println("hi")\n```' in first
    assert (  # videos: a plain link (a player or thumbnail would tell the video site)
        "[Watch the video on YouTube](https://www.youtube.com/watch?v=w7Ft2ymGmfc)" in first
    )
    assert "[Watch the video on Vimeo](https://vimeo.com/146022717)" in first
    bundle = (site / "posts" / "2020-04-05-bundle.md").read_text()
    assert "![A cover](/static/posts/bundle/cover.jpg)" in bundle  # a page bundle's file
    assert 'image: "/static/posts/bundle/cover.jpg"\n' in bundle
    assert (
        "![The team](/static/images/team.png) and [a copy](/static/images/team.png).\n\n"
        "![Gone](/images/gone.png)" in first
    )
    assert (  # ref and relref to pages of the import: their new addresses
        "See [the first post](/posts/first-post/) and [the bundle](/posts/bundle/#top)."
        in (site / "posts" / "2020-03-15-renamed-note.md").read_text()
    )
    assert front(site, "2016-01-02-winning-the-race.md") == (  # the date once, and its own
        'title: "Winning the race"\n'
        "date: 2016-01-02\n"
        "slug: winning-the-race\n"
        "aliases:\n"
        '  - "/2016/01/02/winning-the-race/"\n'
    )
    note = (site / "posts" / "2020-03-15-renamed-note.md").read_text()
    assert "Write {{< youtube ID >}} to show a video." in note  # escaped: shown, not reported
    assert "draft: true\n" in front(site, "2020-03-01-draft-post.md")
    assert run_publisher("check", "--now", NOW, cwd=site).returncode == 0
    assert_redirects(
        site,
        {
            "/old/first/": "first-post",
            "/old/first": "first-post",  # aliases has both: one address, one redirect
            "/posts/first-again/": "first-post",
            "/2020/03/a-note-with-commas/": "renamed-note",  # [permalinks] notes, :title
            "/2016/01/02/winning-the-race/": "winning-the-race",
        },
        feeds={"/index.xml": "rss20", "/notes/index.xml": "rss20", "/posts/index.xml": "rss20"},
    )
    assert not (site / "public" / "old" / "draft").exists()  # a draft's aliases wait for it
    assert_not_published(site, ["draft-post"])


def test_pelican(site: Path) -> None:
    done = import_blog(site, "pelican")
    assert done.returncode == 0, done.stderr
    content = "old/pelican/content"
    assert done.stdout.splitlines() == [
        linked_key("pelican"),
        f"skipped 4 files: not a post, and no post links to it: {content}/images/unused-a.gif, "
        f"{content}/images/unused-b.gif and 2 more",
        f"skipped: {content}/old.rst: reStructuredText is not converted; convert it to "
        "Markdown (pandoc -f rst -t gfm) and import again",
        f"skipped: {content}/pages/about.md: a page, not an article",
        f"fix: {content}/my-super-post.md:11: Pelican link {{filename}}/python/first.markdown "
        "cannot be converted; link to the post's new address (/posts/<slug>/) or to a file "
        "in templates/site/static/",
        f"fix: {content}/my-super-post.md:15: file {{static}}/images/nope.png: no such file "
        f"({content}/images/nope.png); the link is kept as written",
        f"fix: {content}/python/first.markdown:14: liquid_tags tag {{% notebook analysis.ipynb "
        "cells[1:5] %} cannot be converted; write its result as Markdown or HTML",
        f"fix: {content}/python/first.markdown:16: TeX math (1 formula: $$...$$, \\(...\\)) is "
        "shown as written: publisher does not render math; write it out or show it as a "
        "picture where readers need it rendered",  # $5 and $6 are money
        "note: the category became a tag (publisher has tags only): 2 posts",
        "note: the feed is also written at /feeds/all.atom.xml, /feeds/all.rss.xml, its old "
        "addresses ([site] old_feeds in config/site.toml)",
        "imported 3 posts (1 draft), copied 4 files, skipped 7 files, 4 things to fix by "
        "hand; publisher check: no errors",
    ]
    copied = {"images/chart.png", "python/diagram.png", "images/tour.png", "videos/tour.mp4"}
    assert_copied(site, "pelican", copied)
    article = (site / "posts" / "2010-12-03-my-super-post.md").read_text()
    assert "![A chart](/static/images/chart.png)\n\n![Missing](/images/nope.png)" in article
    python = (site / "posts" / "2011-02-02-first-python-post.md").read_text()
    assert "![Diagram](/static/python/diagram.png)" in python  # {attach}: the post's folder
    assert (  # the liquid_tags plugin's img, video and youtube
        '![Bars per month](/static/images/chart.png "A chart")\n\n'
        "[![Play the video](/static/images/tour.png)](/static/videos/tour.mp4)\n\n"
        "[Watch the video on YouTube](https://www.youtube.com/watch?v=w7Ft2ymGmfc)" in python
    )
    assert front(site, "2010-12-03-my-super-post.md") == (
        'title: "My super title"\n'
        "date: 2010-12-03 10:20\n"
        'tags: ["thats", "awesome", "yeah"]\n'
        "slug: my-super-post\n"
        'summary: "Short version for index and feeds"\n'
        'author: "Alexis Metaireau, Conan Doyle"\n'
        "aliases:\n"
        '  - "/my-super-post.html"\n'
    )
    assert 'tags: ["python"]\n' in front(site, "2011-02-02-first-python-post.md")
    assert "draft: true\n" in front(site, "2011-01-01-unfinished-thoughts.md")
    assert run_publisher("check", "--now", NOW, cwd=site).returncode == 0
    assert_redirects(
        site,
        {"/my-super-post.html": "my-super-post", "/first-python-post.html": "first-python-post"},
        feeds={"/feeds/all.atom.xml": "atom10", "/feeds/all.rss.xml": "rss20"},  # publishconf
    )
    assert_not_published(site, ["unfinished-thoughts"])


@pytest.mark.parametrize("tool", ["jekyll", "hugo", "pelican"])
def test_a_second_run_writes_nothing(site: Path, tool: str) -> None:
    def written() -> dict[Path, tuple[bytes, int]]:
        files = [*(site / "posts").iterdir(), *(site / "templates").rglob("*.*")]
        return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}

    first = import_blog(site, tool)
    assert first.returncode == 0, first.stderr
    before = written()
    edited = sorted(site / "posts" / p.name for p in before if p.parent.name == "posts")[0]
    edited.write_text("edited by hand\n")
    before[edited] = (edited.read_bytes(), edited.stat().st_mtime_ns)
    again = run_publisher("import", tool, f"old/{tool}", "--now", NOW, cwd=site)
    assert again.returncode == 0, again.stderr
    assert written() == before
    summary = again.stdout.splitlines()[-1]
    assert summary.startswith("imported 0 posts (0 drafts), copied 0 files, skipped ")
    assert summary.endswith("; publisher check: 1 error (listed above)")  # the edited post
    assert "imported before: its post exists and was left as it is" in again.stdout


def test_a_folder_that_is_not_that_tools_site_is_refused(site: Path) -> None:
    (site / "old").mkdir()
    for tool, missing in (("jekyll", "_posts"), ("hugo", "content"), ("pelican", "content")):
        done = run_publisher("import", tool, "old", cwd=site)
        assert done.returncode == 2
        assert done.stderr.startswith(f"error: old: no {missing} folder;")
    assert list((site / "posts").iterdir()) == []


def test_jekyll_collection_permalink_in_the_old_sites_time_zone(site: Path) -> None:
    """The posts collection's permalink wins over the site's; an address's date is the
    one the old site saw, in its own time zone (23:46 at +02:00 is 14:46 in Los Angeles;
    at Tokyo time it would be the next day)."""
    old = site / "old"
    (old / "_posts").mkdir(parents=True)
    (old / "_config.yml").write_text(
        "timezone: Asia/Tokyo\npermalink: pretty\n"
        "collections:\n  posts:\n    permalink: /news/:year/:month/:day/:title/\n"
    )
    (old / "_posts" / "2013-05-08-released.md").write_text(
        "---\ntitle: Released\ndate: 2013-05-08 23:46:11 +0200\n---\nOut now.\n"
    )
    done = run_publisher("import", "jekyll", "old", "--now", NOW, cwd=site)
    assert done.stdout.splitlines() == [
        "imported 1 post (0 drafts), copied 0 files, skipped 0 files, 0 things to fix by hand; "
        "publisher check: no errors"
    ]
    assert '  - "/news/2013/05/09/released/"\n' in front(site, "2013-05-08-released.md")


def test_an_address_in_use_gets_a_new_slug_and_is_reported(site: Path) -> None:
    """Two old posts with one slug, or one taken by a post already in posts/: the later
    one gets <slug>-2, and both keep their old addresses."""
    write_post(site, "2026-01-01-hello.md", "title: Hello\ndate: 2026-01-01")
    content = site / "old" / "content"
    content.mkdir(parents=True)
    for name, day in (("a", "2011-01-01"), ("b", "2011-02-01")):
        (content / f"{name}.md").write_text(f"Title: Hello\nDate: {day}\nSlug: hello\n\nHi.\n")
    done = run_publisher("import", "pelican", "old", "--now", NOW, cwd=site)
    assert done.stdout.splitlines() == [
        "fix: old/content/a.md:1: posts/2026-01-01-hello.md has the address hello: this post "
        "is hello-2; change its slug: if you like (its old addresses still work)",
        "fix: old/content/b.md:1: posts/2026-01-01-hello.md has the address hello: this post "
        "is hello-3; change its slug: if you like (its old addresses still work)",
        "fix: old/content/b.md:1: the old address /hello.html was also another post's; it "
        "redirects to posts/2011-01-01-hello-2.md",
        "note: the feed is also written at /feeds/all.atom.xml, its old address ([site] "
        "old_feeds in config/site.toml)",  # Pelican's default
        "imported 2 posts (0 drafts), copied 0 files, skipped 0 files, 3 things to fix by "
        "hand; publisher check: no errors",
    ]
    assert "slug: hello-3\n" in front(site, "2011-02-01-hello-3.md")
    assert run_publisher("check", "--now", NOW, cwd=site).returncode == 0
    again = run_publisher("import", "pelican", "old", "--now", NOW, cwd=site)
    assert again.stdout.splitlines()[-1].startswith("imported 0 posts")


def test_a_post_whose_front_matter_cannot_be_read_is_skipped_with_its_line(site: Path) -> None:
    posts = site / "old" / "_posts"
    posts.mkdir(parents=True)
    (posts / "2019-01-01-broken.md").write_text("---\ntitle: [unclosed\n---\nText.\n")
    (posts / "2019-01-02-latin1.md").write_bytes(b"---\ntitle: Caf\xe9\n---\n")
    done = run_publisher("import", "jekyll", "old", "--now", NOW, cwd=site)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("skipped: old/_posts/2019-01-01-broken.md:1: front matter cannot ")
    assert lines[0].endswith("; correct it and import again")
    assert lines[1] == (
        "skipped: old/_posts/2019-01-02-latin1.md:2: not UTF-8 text; save it as UTF-8 and "
        "import again"
    )
    assert lines[-1] == (
        "imported 0 posts (0 drafts), copied 0 files, skipped 2 files, 0 things to fix by "
        "hand; publisher check: no errors"
    )


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2019-05-01 10:00:00 +0200", "2019-05-01T10:00:00+02:00"),  # Jekyll's own form
        ("2019-05-01T10:00:00Z", "2019-05-01T10:00:00+00:00"),
        ("2010-12-03 10:20", "2010-12-03T10:20:00"),  # no offset: site time
        ("2012/11/30 9:05", "2012-11-30T09:05:00"),
        ("2019-5-1", "2019-05-01"),
    ],
)
def test_dates_as_the_three_tools_write_them(written: str, expected: str) -> None:
    from publisher.importers import reading

    assert reading.when(written).isoformat() == expected


def test_pelican_metadata_header_with_a_continued_value() -> None:
    from publisher.importers import reading

    front = reading.split("Title: A\nTags: one,\n    two\nSummary: S\n\nBody\n", metadata=True)
    assert front.values == {"title": "A", "tags": "one, two", "summary": "S"}
    assert (front.lines, front.body, front.body_line) == (
        {"title": 1, "tags": 2, "summary": 4},
        "Body\n",
        6,
    )


# --- A hostile tree: nothing outside SRC is read ---------------------------------------


@pytest.mark.parametrize("tool", ["jekyll", "hugo", "pelican"])
def test_a_symlink_out_of_the_tree_is_named_and_not_followed(
    site: Path, tmp_path_factory: pytest.TempPathFactory, tool: str
) -> None:
    """A post that is a symlink to a key file (in the site but outside SRC, or outside
    the site), and a folder that is a symlink, are skipped by name: the key is read by
    nothing, so it reaches no page, feed or post."""
    outside = tmp_path_factory.mktemp("outside")
    (outside / "dkim.pem").write_text(KEY)
    (outside / "2020-03-05-folder-key.md").write_text(KEY)
    (site / "config" / "dkim.pem").write_text(KEY)
    shutil.copytree(BLOGS / tool, site / "old" / tool)
    folder = site / "old" / tool / POST_FOLDERS[tool]
    (folder / "2020-03-03-key.md").symlink_to(outside / "dkim.pem")
    (folder / "2020-03-04-site-key.md").symlink_to(site / "config" / "dkim.pem")
    (folder / "linked").symlink_to(outside, target_is_directory=True)
    done = run_publisher("import", tool, f"old/{tool}", "--now", NOW, cwd=site)
    assert done.returncode == 0, done.stderr
    shown = f"old/{tool}/{POST_FOLDERS[tool]}"
    for name in ("2020-03-03-key.md", "2020-03-04-site-key.md", "linked"):
        assert (
            f"skipped: {shown}/{name}: a symbolic link, not followed (an import reads only "
            "the files inside the folder it is given); copy the file itself in to import it"
        ) in done.stdout.splitlines()
    assert "key" not in " ".join(p.name for p in (site / "posts").iterdir())
    assert_key_nowhere(site)


@pytest.mark.parametrize(
    ("tool", "config_file"),
    [("jekyll", "_config.yml"), ("hugo", "hugo.toml"), ("pelican", "pelicanconf.py")],
)
def test_a_symlinked_settings_file_or_post_folder_is_not_read(
    site: Path, tmp_path_factory: pytest.TempPathFactory, tool: str, config_file: str
) -> None:
    """The old site's settings file as a symlink is named and not read; so is a post
    folder (`_posts`, `content`) that is a symlink out of the tree."""
    outside = tmp_path_factory.mktemp("outside")
    (outside / "2020-03-03-key.md").write_text(KEY)
    old = site / "old" / tool
    shutil.copytree(BLOGS / tool, old)
    (old / config_file).unlink()
    (old / config_file).symlink_to(site / "config" / "site.toml")
    done = run_publisher("import", tool, f"old/{tool}", "--now", NOW, cwd=site)
    assert done.returncode == 0, done.stderr
    assert f"skipped: old/{tool}/{config_file}: a symbolic link, not followed" in done.stdout
    other = site / "other"
    (other / ("_posts" if tool == "jekyll" else "")).mkdir(parents=True, exist_ok=True)
    linked = other / ("content" if tool != "jekyll" else "_posts/more")
    if tool == "jekyll":
        (other / "_posts" / "2020-01-01-real.md").write_text("---\ntitle: Real\n---\nText.\n")
    linked.symlink_to(outside, target_is_directory=True)
    done = run_publisher("import", tool, "other", "--now", NOW, cwd=site)
    shown = f"other/{linked.relative_to(other).as_posix()}"
    if tool == "jekyll":
        assert done.returncode == 0, done.stderr
        assert f"skipped: {shown}: a symbolic link, not followed" in done.stdout
    else:  # the content folder itself: not this tool's site
        assert done.returncode == 2
        assert f"error: other: {shown.removeprefix('other/')} is a symbolic link" in done.stderr
    assert_key_nowhere(site)


def test_a_file_over_the_size_cap_is_refused_with_a_line(site: Path) -> None:
    posts = site / "old" / "_posts"
    posts.mkdir(parents=True)
    (posts / "2020-01-01-huge.md").write_bytes(b"---\ntitle: Huge\n---\n" + b"x" * 1_100_000)
    (posts / "2020-01-02-fine.md").write_text("---\ntitle: Fine\n---\nText.\n")
    done = run_publisher("import", "jekyll", "old", "--now", NOW, cwd=site)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "skipped: old/_posts/2020-01-01-huge.md: over 1 MB (publisher refuses posts that "
        "large); split it into smaller posts and import again",
        "imported 1 post (0 drafts), copied 0 files, skipped 1 file, 0 things to fix by hand; "
        "publisher check: no errors",
    ]


def test_a_pelican_path_outside_the_tree_is_refused(site: Path) -> None:
    """pelicanconf.py's PATH is read as text; one that leaves SRC is not walked."""
    (site / "old").mkdir()
    (site / "old" / "pelicanconf.py").write_text(f'PATH = "{site / "config"}"\n')
    done = run_publisher("import", "pelican", "old", "--now", NOW, cwd=site)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: old: {site / 'config'} is a symbolic link or outside")
    assert list((site / "posts").iterdir()) == []


# --- The files posts use ---------------------------------------------------------------


def jekyll_post(site: Path, body: str, front: str = "") -> Path:
    """A Jekyll blog at site/old with one post; its file."""
    post = site / "old" / "_posts" / "2020-01-01-pictures.md"
    post.parent.mkdir(parents=True, exist_ok=True)
    post.write_text(f"---\ntitle: Pictures\n{front}---\n{body}")
    return post


def test_files_are_copied_only_from_inside_the_tree_and_never_over_the_sites(
    site: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A picture behind a symlink, or up out of the tree with .., is not read; code
    examples are left alone; a file the site already has with other bytes is kept and
    reported, with the same bytes it is simply used."""
    outside = tmp_path_factory.mktemp("outside")
    (outside / "key.png").write_text(KEY)
    jekyll_post(
        site,
        "![a](/img/linked.png) ![b](../../../key.png) ![c](/img/ours.png) ![d](/img/same.png)"
        "\n\n```\n![e](/img/ours.png)\n```\n\n![f](/img/folder.png)\n",
    )
    images = site / "old" / "img"
    images.mkdir()
    (images / "linked.png").symlink_to(outside / "key.png")
    (images / "ours.png").write_bytes(png(2, 2))
    (images / "same.png").write_bytes(png(3, 3))
    static = site / "templates" / "site" / "static" / "img"
    static.mkdir(parents=True)
    (static / "ours.png").write_bytes(png(9, 9))
    (static / "same.png").write_bytes(png(3, 3))
    (images / "folder.png").write_bytes(png(4, 4))
    (static / "folder.png").mkdir()  # a folder where the copy would go
    done = run_publisher("import", "jekyll", "old", "--now", NOW, cwd=site)
    assert done.stdout.splitlines()[:4] == [
        "fix: old/_posts/2020-01-01-pictures.md:4: picture ../../../key.png: no such file "
        "(old/_posts/../../../key.png); the link is kept as written",
        "fix: old/_posts/2020-01-01-pictures.md:4: picture /img/linked.png: a symbolic link, "
        "not followed (an import reads only the files inside the folder it is given); copy "
        "the file itself in to import it; the link is kept as written",
        "fix: old/img/folder.png:1: not copied to templates/site/static/img/folder.png: File "
        "exists",
        "fix: old/img/ours.png:1: templates/site/static/img/ours.png exists and differs; left "
        "as it is: the posts that use the old file link to it, so compare the two",
    ]
    assert (static / "ours.png").read_bytes() == png(9, 9)
    assert sorted(p.name for p in static.iterdir()) == ["folder.png", "ours.png", "same.png"]
    post = (site / "posts" / "2020-01-01-pictures.md").read_text()
    assert (
        "![a](/img/linked.png) ![b](../../../key.png) ![c](/static/img/ours.png) "
        "![d](/static/img/same.png)\n\n```\n![e](/img/ours.png)\n```\n" in post
    )
    assert_key_nowhere(site)


def test_a_file_over_the_size_cap_is_not_copied(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from publisher.config import load_config
    from publisher.importers import blog, media

    monkeypatch.setattr(media, "MAX_FILE_BYTES", 1000)
    jekyll_post(site, "[the data](/data/big.csv) and [more](/data/small.csv)\n")
    (site / "old" / "data").mkdir()
    (site / "old" / "data" / "big.csv").write_text("x" * 1001)
    (site / "old" / "data" / "small.csv").write_text("x" * 1000)
    config_file = site / "config" / "site.toml"
    report = blog.import_blog("jekyll", site / "old", load_config(env={}, now=NOW), config_file)
    assert [str(fix) for fix in report.fixes] == [
        f"{site}/old/_posts/2020-01-01-pictures.md:4: file /data/big.csv: over 1 KB, not "
        "copied; put it on a file host; the link is kept as written"
    ]
    assert report.copied == ["templates/site/static/data/small.csv"]


def test_the_import_ends_with_what_check_still_finds(site: Path) -> None:
    """A post check refuses (its picture is an SVG, which mail clients drop) is listed in
    the summary: the import is done when its summary says check finds nothing."""
    jekyll_post(site, "Text.\n", front="image: /img/logo.svg\n")
    (site / "old" / "img").mkdir()
    (site / "old" / "img" / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    done = run_publisher("import", "jekyll", "old", "--now", NOW, cwd=site)
    assert done.stdout.splitlines() == [
        "check: posts/2020-01-01-pictures.md:5: image /static/img/logo.svg: SVG, which Gmail "
        "and Outlook do not show in email and social cards; use a PNG, JPEG or GIF file",
        "imported 1 post (0 drafts), copied 1 file, skipped 0 files, 0 things to fix by hand; "
        "publisher check: 1 error (listed above)",
    ]


@pytest.mark.parametrize(
    ("written", "converted"),
    [
        ("{% img /figures/a.png [A histogram] %}", "![A histogram](/figures/a.png)"),
        ('{% img left /i/a.png 300 200 "Title" "Alt" %}', '![Alt](/i/a.png "Title")'),
        ("{% img /i/a.gif %}", "![](/i/a.gif)"),
        (
            "{% youtube https://youtu.be/abc-DEF %}",
            "[Watch the video on YouTube](https://www.youtube.com/watch?v=abc-DEF)",
        ),
        (
            '{{< youtube id="abc" autoplay="true" >}}',
            "[Watch the video on YouTube](https://www.youtube.com/watch?v=abc)",
        ),
        ("{% vimeo 12345 %}", "[Watch the video on Vimeo](https://vimeo.com/12345)"),
        ("{% video /v/a.mp4 %}", "[Watch the video](/v/a.mp4)"),
        ('{% include image.html url="/a.png" description="Why" %}', "![Why](/a.png)"),
        (
            '{% include youtube.html id="abc" %}',
            "[Watch the video on YouTube](https://www.youtube.com/watch?v=abc)",
        ),
        ("{% literal img /a.png %}", "`{% img /a.png %}`"),  # Pelican's: shown as written
        ("{% include map.html zoom=3 %}", "{% include map.html zoom=3 %}"),  # reported
        ("{{< youtube >}}", "{{< youtube >}}"),  # no video named: reported
    ],
)
def test_plugin_tags_for_pictures_and_videos(written: str, converted: str) -> None:
    from publisher.importers import tags

    assert tags.convert(f"See {written} here.") == f"See {converted} here."


def test_hugo_dated_file_names_and_translated_list_pages(site: Path) -> None:
    """A year-month in front of a file name is left out of the slug too (never
    2015-12-12-2015-12-talk.md); a translated section list page (_index.fr.md) is a list
    page; a <script src> that is missing is no missing picture."""
    posts = site / "old" / "content" / "posts"
    posts.mkdir(parents=True)
    (posts / "2015-12-talk.md").write_text(
        '---\ntitle: "A talk"\ndate: 2015-12-12\n---\n<script src="./s.js"></script>\n'
    )
    (posts / "_index.fr.md").write_text('---\ntitle: "Articles"\n---\n')
    done = run_publisher("import", "hugo", "old", "--now", NOW, cwd=site)
    assert done.stdout.splitlines()[0] == (
        "skipped: old/content/posts/_index.fr.md: a section's list page, not a post"
    )
    assert done.stdout.splitlines()[-1].startswith("imported 1 post (0 drafts), copied 0 files")
    assert "slug: talk\n" in front(site, "2015-12-12-talk.md")
