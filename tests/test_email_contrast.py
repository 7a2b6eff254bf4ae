"""Every email the sample site sends, in headless Chromium at phone and desktop widths, in
light and dark mode: every visible text, link and button readable (WCAG AA contrast against
its actual background), nothing wider than the screen, no word broken inside a table."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

import pytest

from conftest import copy_sample_site, open_email, sample_emails

pytestmark = pytest.mark.browser

WCAG_AA = 4.5

# For each visible text node: its colour, the first opaque background behind it (walking
# up the ancestors), the WCAG contrast ratio; and each word in a table cell that the layout
# split over two lines.
MEASURE = """() => {
  const rgba = (value) => {
    const m = value.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map(v => v / 255).map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] >= 1) return c;
    }
    return [255, 255, 255, 1];  // the canvas
  };
  const visible = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === 'none' || s.visibility === 'hidden' || Number(s.opacity) === 0) return false;
    }
    const r = element.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const low = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const broken = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    if (!text || !visible(node.parentElement)) continue;
    const fg = rgba(getComputedStyle(node.parentElement).color);
    const bg = background(node.parentElement);
    const mixed = fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
    const [a, b] = [luminance(mixed), luminance(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) low.push({text: text.slice(0, 40), ratio: Math.round(ratio * 100) / 100,
                               color: fg.join(','), background: bg.join(','),
                               tag: node.parentElement.tagName});
    if (node.parentElement.closest('td.content table:not([role]) td, td.content table:not([role]) th')) {
      for (const m of node.textContent.matchAll(/[^\\s\\u2014\\u2013-]+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  return {low, broken, scroll: document.documentElement.scrollWidth, viewport: innerWidth};
}"""


@pytest.fixture(scope="module")
def emails(tmp_path_factory) -> dict[str, str]:
    """The HTML part of every sample email, as the subscriber receives it."""
    root = copy_sample_site(tmp_path_factory.mktemp("contrast") / "sample")
    found = {}
    for name, data in sample_emails(root).items():
        message = message_from_bytes(data, policy=policy.default)
        found[name] = message.get_body(preferencelist=("html",)).get_content()
    return found


# The emails the docs show (docs/staff/emails.md), shot at phone width in each scheme.
DOCS_SHOTS = {"excerpt": "announcement", "digest": "digest", "welcome": "welcome"}


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [375, 600])
def test_every_email_is_readable_and_fits(browser, emails, artifacts, shots, width, scheme):
    problems = {}
    for name, html in emails.items():
        page, errors = open_email(browser, html, width, scheme)
        try:
            found = page.evaluate(MEASURE)
            if width == 375 and name in DOCS_SHOTS:
                page.screenshot(path=shots / f"email-{DOCS_SHOTS[name]}-{scheme}.png")
            if found["low"] or found["broken"] or found["scroll"] > found["viewport"] or errors:
                page.screenshot(
                    path=str(artifacts / f"{name}-{width}-{scheme}.png"), full_page=True
                )
                problems[name] = found | {"errors": errors}
        finally:
            page.close()
    assert problems == {}, f"below {WCAG_AA}:1, words broken in tables, or overflow: {problems}"


@pytest.mark.parametrize("images", [True, False], ids=["images", "images-blocked"])
def test_every_email_fits_a_phone_without_its_stylesheet(browser, emails, artifacts, images):
    """Issue 20 item 17: a mail client that drops <style> keeps only the inline styles,
    and the card's inline width:600px cut the text at 375 px; with images blocked too,
    the digest was 572 px wide. The layout must be fluid from its inline styles alone."""
    problems = {}
    for name, html in emails.items():
        bare = re.sub(r"<style\b.*?</style>", "", html, flags=re.DOTALL | re.IGNORECASE)
        page, _errors = open_email(browser, bare, 375, images=images)
        try:
            found = page.evaluate(MEASURE)
            if found["scroll"] > found["viewport"]:
                page.screenshot(path=str(artifacts / f"{name}-375-bare.png"), full_page=True)
                problems[name] = found["scroll"]
        finally:
            page.close()
    assert problems == {}, f"wider than 375 px without <style>: {problems}"
