from __future__ import annotations

from datetime import UTC, datetime

import pytest

from factledger.errors import InputError, PermanentFetchError
from factledger.net import Fetcher
from factledger.records import FetchStatus, Source
from warehouse.credibility import blocked_domains, load_credibility
from warehouse.store import store_sources


def test_builtin_list_loaded_once_and_versioned(db):
    n = db.execute("SELECT count(*) FROM source_credibility").fetchone()[0]
    assert n > 20
    version = load_credibility(db)
    assert db.execute("SELECT count(*) FROM source_credibility").fetchone()[0] == n
    assert db.execute("SELECT DISTINCT list_version FROM current_source_credibility").fetchall() == [(version,)]


def test_edited_list_becomes_current_and_old_one_is_kept(db):
    old = load_credibility(db)
    new = load_credibility(db, "domain,category,rationale\nexample.net,blog,test entry\n", "edited.csv")
    assert new != old
    assert db.execute("SELECT domain FROM current_source_credibility").fetchall() == [("example.net",)]
    assert db.execute("SELECT count(DISTINCT list_version) FROM source_credibility").fetchone()[0] == 2


def test_bad_row_names_the_file_and_line(db):
    with pytest.raises(InputError, match="line 3.*mine.csv"):
        load_credibility(db, "domain,category,rationale\na.org,wire,x\nb.org,excellent,y\n", "mine.csv")


def test_sources_get_domain_and_category(db):
    now = datetime.now(UTC)
    srcs = [Source("urls", url, now, FetchStatus.OK, "ok") for url in
            ("https://www.reuters.com/world/x", "https://en.wikipedia.org/wiki/Kabul", "https://unknown.example/a")]
    store_sources(db, "r", srcs, [])
    got = dict(db.execute("SELECT domain, credibility FROM source_domains").fetchall())
    assert got == {"reuters.com": "wire", "en.wikipedia.org": "reference", "unknown.example": None}


def test_blocklist_refuses_before_any_request(db, httpserver):
    blocked = blocked_domains(db)
    assert "infowars.com" in blocked
    f = Fetcher(allow_loopback=True, obey_robots=False)
    f.blocked_domains = blocked
    with pytest.raises(PermanentFetchError, match="blocklisted"):
        f.get("https://www.infowars.com/some/story")
