"""Newsletter benchmark: render + inline once, then personalized messages per second.

    .venv/bin/python bench/newsletter_bench.py [--recipients 10000] [--posts-words 1500]

Prints the time to render one post email (templates + premailer) and premailer's share,
then complete messages built per second for N recipients with DKIM off and on (a fresh
2048-bit RSA key), and for comparison dkimpy's own signing time for one message.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

import dkim

from publisher.config import load_config
from publisher.content.posts import load_posts
from publisher.mail import newsletter
from publisher.mail.message import MessageBuilder, Recipient

from common import SECRET, write_config, write_dkim_key

CONFIG = """\
[site]
title = "Bench Clinic Blog"
url = "https://blog.example.org"
timezone = "America/Chicago"

[newsletter]
from_name = "Bench Clinic"
from_address = "news@example.org"
postal_address = "1 Main St, Springfield"
"""

PARAGRAPH = (
    "Good sleep is built from small habits: a regular bedtime, a dark and cool room, and "
    "[less caffeine](/posts/coffee/) after noon. Read the [study](https://example.com/s) too. "
)


def post_body(words: int) -> str:
    """A realistic post: paragraphs, headings, a list, a code block and images."""
    sections = []
    count = 0
    while count < words:
        n = len(sections)
        sections.append(f"## Part {n}\n\n{PARAGRAPH * 3}\n\n- one tip\n- another tip\n")
        if n % 3 == 0:
            sections.append(f"![Chart {n}](chart-{n}.png)\n\n```\nprint('hello {n}')\n```\n")
        count += len(PARAGRAPH.split()) * 3 + 6
    return "\n".join(sections)


def make_site(root: Path, words: int) -> None:
    write_config(root, CONFIG)
    (root / "posts").mkdir()
    front = (
        "---\ntitle: Sleep better tonight\ndate: 2026-03-01 09:00\nsummary: Small habits.\n---\n\n"
    )
    (root / "posts" / "2026-03-01-sleep.md").write_text(front + post_body(words), encoding="utf-8")


def recipients(count: int) -> list[Recipient]:
    return [
        Recipient(
            email=f"reader{i}@example.com",
            name=f"Reader {i}" if i % 3 else "",
            unsubscribe_url=f"https://blog.example.org/unsubscribe?token={i}.1772452800.abcdefghij",
            preferences_url=f"https://blog.example.org/preferences?token={i}.1772452800.klmnopqrst",
        )
        for i in range(count)
    ]


def rate(builder: MessageBuilder, people: list[Recipient]) -> tuple[float, int]:
    start = time.perf_counter()
    size = 0
    for person in people:
        size = len(builder.build(person))
    return len(people) / (time.perf_counter() - start), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--post-words", type=int, default=1500)
    parser.add_argument("--renders", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        make_site(root, args.post_words)
        os.environ.setdefault("PUBLISHER_SECRET_KEY", SECRET)
        config = load_config(root / "config" / "site.toml", now="2026-03-02T15:00:00Z", env={})
        post = load_posts(config)[0]

        inline_times: list[float] = []
        original = newsletter.inline_css

        def timed_inline(html: str) -> str:
            start = time.perf_counter()
            result = original(html)
            inline_times.append(time.perf_counter() - start)
            return result

        newsletter.inline_css = timed_inline
        render_times = []
        for _ in range(args.renders):
            start = time.perf_counter()
            rendered = newsletter.render_post(config, post)
            render_times.append(time.perf_counter() - start)
        newsletter.inline_css = original
        print(f"post: {post.word_count} words; HTML part {len(rendered.html) / 1000:.1f} KB")
        print(
            f"render once per newsletter: {statistics.median(render_times) * 1000:.1f} ms "
            f"(premailer inlining {statistics.median(inline_times) * 1000:.1f} ms), "
            f"median of {args.renders}"
        )

        people = recipients(args.recipients)
        builder = MessageBuilder(config, rendered)
        off, size = rate(builder, people)
        print(
            f"DKIM off: {off:,.0f} messages/s ({args.recipients:,} recipients, {size / 1000:.1f} KB each)"
        )

        key_path = root / "dkim.pem"
        pem = write_dkim_key(key_path)
        signed_config = dataclasses.replace(
            config,
            dkim=dataclasses.replace(
                config.dkim, domain="example.org", selector="bench", private_key_path=key_path
            ),
        )
        on, _ = rate(MessageBuilder(signed_config, rendered), people)
        print(f"DKIM on:  {on:,.0f} messages/s (rsa-sha256 2048-bit, relaxed/relaxed)")

        unsigned = builder.build(people[0])
        start = time.perf_counter()
        for _ in range(20):
            dkim.sign(
                unsigned, b"bench", b"example.org", pem, canonicalize=(b"relaxed", b"relaxed")
            )
        print(
            f"for comparison, dkimpy.sign: {(time.perf_counter() - start) / 20 * 1000:.1f} ms per message"
        )


if __name__ == "__main__":
    main()
