from __future__ import annotations

import pytest

from extractors.feeds import fetch_feed, parse_feed
from factledger.errors import InputError

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Example News</title><link>https://news.example.org/</link>
<item><title>Bridge opens</title><link>https://news.example.org/a/bridge</link>
<guid>https://news.example.org/a/bridge</guid><pubDate>Thu, 02 May 2024 09:00:00 GMT</pubDate></item>
<item><title>Relative link</title><link>/a/relative</link><pubDate>Fri, 03 May 2024 10:30:00 GMT</pubDate></item>
<item><title>Duplicate</title><link>https://news.example.org/a/bridge</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Example</title><id>urn:x</id><updated>2024-05-04T00:00:00Z</updated>
<entry><title>Atom story</title><id>urn:1</id><link href="https://atom.example.org/story"/>
<updated>2024-05-04T12:00:00Z</updated></entry></feed>"""


def test_rss_entries_resolved_and_deduplicated():
    entries = parse_feed(RSS, "https://news.example.org/feed.xml")
    assert [e.url for e in entries] == ["https://news.example.org/a/bridge", "https://news.example.org/a/relative"]
    assert entries[0].published == "2024-05-02T09:00:00Z" and entries[0].title == "Bridge opens"


def test_atom_entries():
    (e,) = parse_feed(ATOM, "https://atom.example.org/feed")
    assert (e.url, e.published, e.entry_id) == ("https://atom.example.org/story", "2024-05-04T12:00:00Z", "urn:1")


def test_feed_fetched_by_our_fetcher(httpserver, fetcher):
    httpserver.expect_request("/feed.xml").respond_with_data(RSS, content_type="application/rss+xml")
    entries = fetch_feed(fetcher, httpserver.url_for("/feed.xml"))
    assert len(entries) == 2 and len(httpserver.log) == 1


def test_garbage_is_not_a_feed(httpserver, fetcher):
    httpserver.expect_request("/bad").respond_with_data(b"\x00\x01 not xml", content_type="application/xml")
    with pytest.raises(InputError, match="not a valid RSS/Atom feed"):
        fetch_feed(fetcher, httpserver.url_for("/bad"))
