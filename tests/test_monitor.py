"""`spinlens watch` against feeds, a sitemap and a webhook served on 127.0.0.1 by the test: conditional GETs,
several polling rounds, alerts delivered (after a failed attempt), the run lock, SIGTERM and --once."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spinlens.cli import app
from spinlens.document import Analysis, Document, Span
from spinlens.errors import SpinlensError
from spinlens.monitor import alerts as al
from spinlens.monitor.fetch import FetchError, fetch
from spinlens.monitor.watch import sitemap_entries, watch
from spinlens.store import Store

from .conftest import analyses_in

CALM = [
    "The city council met on Tuesday to review the budget for the coming year and approved funds for two schools.",
    "Rail services ran on time this week, the transport office said, after repairs to a bridge were finished.",
    "The museum opened a new wing with paintings from the last century; entry is free on Sundays.",
    "Farmers expect a good harvest after a mild spring, the agriculture ministry said in its monthly report.",
    "The library will extend its opening hours in December, and a reading club starts next month.",
    "A new bus line connects the university with the station from Monday, the city said.",
]
LOUD = [
    "The corrupt, treacherous puppets in Brussels are destroying our nation with their disgusting, evil lies!",
    "These shameless traitors and thugs of the Kiev regime terrorise innocent people every single day!",
    "Only a fool would believe the lying, rotten elites of Washington, who want to enslave us all!",
]


class Site:
    """A loopback web server whose pages the test changes between rounds; it answers conditional GETs."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        self.log: list[tuple[str, str, int]] = []  # (method, path, status)
        self.posts: list[dict] = []
        self.fail_posts = 0  # answer this many POSTs with 503 first
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

            def do_GET(self) -> None:
                body = site.pages.get(self.path)
                if body is None:
                    site.log.append(("GET", self.path, 404))
                    self.send_error(404)
                    return
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    site.log.append(("GET", self.path, 304))
                    self.send_response(304)
                    self.end_headers()
                    return
                site.log.append(("GET", self.path, 200))
                self.send_response(200)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if site.fail_posts:
                    site.fail_posts -= 1
                    site.log.append(("POST", self.path, 503))
                    self.send_error(503)
                    return
                site.log.append(("POST", self.path, 200))
                site.posts.append(json.loads(data))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def gets(self, path: str) -> list[int]:
        return [status for method, p, status in self.log if method == "GET" and p == path]


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    s.thread.start()
    yield s
    s.server.shutdown()
    s.server.server_close()


def _feed(title: str, entries: list[tuple[str, str, dt.datetime]]) -> bytes:
    items = "".join(
        f"<item><guid isPermaLink='false'>{guid}</guid><title>Item {guid}</title><description>{text}</description>"
        f"<pubDate>{email.utils.format_datetime(when)}</pubDate></item>"
        for guid, text, when in entries
    )
    return f"<?xml version='1.0'?><rss version='2.0'><channel><title>{title}</title>{items}</channel></rss>".encode()


def test_watch_polls_a_loopback_feed_for_rounds_and_delivers_an_alert_to_a_webhook(
    site: Site, tmp_path: Path, db_url: str
) -> None:
    now = dt.datetime.now(dt.UTC)
    calm = [(f"calm-{i}", text, now - dt.timedelta(days=10 - i)) for i, text in enumerate(CALM)]
    loud = [(f"loud-{i}", text, now - dt.timedelta(hours=3 - i)) for i, text in enumerate(LOUD)]
    site.pages["/feed.xml"] = _feed("Outlet X", calm)
    site.fail_posts = 1  # the webhook is down at the first attempt
    store = Store(db_url)
    rules = (al.TechniqueRate(days=1, baseline_days=30, ratio=2.0, min_articles=3, min_baseline_articles=5),)
    delivery = al.Delivery(jsonl=str(tmp_path / "alerts.jsonl"), webhook=f"{site.url}/hook", backoff=0.05)

    def between(done) -> None:  # type: ignore[no-untyped-def]
        if done.number == 2:  # the outlet turns loud
            site.pages["/feed.xml"] = _feed("Outlet X", loud + calm)

    feed = f"{site.url}/feed.xml"
    rounds = list(watch([feed], store, interval=0, rounds=4, rules=rules, delivery=delivery, on_round=between))

    analysed = [r.summary.analysed for r in rounds]
    assert analysed == [6, 0, 3, 0]  # only what is new, once
    assert site.gets("/feed.xml") == [200, 304, 200, 304]  # conditional GETs: an unchanged feed costs a 304
    assert [len(r.alerts) for r in rounds] == [0, 0, len(rounds[2].alerts), 0] and rounds[2].alerts
    raised = rounds[2].alerts[0]
    assert raised.rule == "technique_rate" and raised.outlet == "Outlet X"
    assert raised.details["articles"] == 3 and raised.details["baseline_articles"] == 6

    assert [p["id"] for p in site.posts] == [a.id for a in rounds[2].alerts]  # each alert POSTed once ...
    assert ("POST", "/hook", 503) in site.log  # ... after a failed attempt and a retry
    lines = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == [a.id for a in rounds[2].alerts]
    assert lines[0]["message"].startswith("Outlet X: ") and "per 1,000 words" in lines[0]["message"]
    listed = al.list_alerts(store)
    assert {r["id"] for r in listed} == {a.id for a in rounds[2].alerts}
    assert all(r["to_file"] and r["to_webhook"] for r in listed)
    shown = CliRunner().invoke(app, ["alerts", "--db", db_url, "--json"])
    assert shown.exit_code == 0 and [json.loads(line)["id"] for line in shown.stdout.splitlines()] == sorted(
        (a.id for a in rounds[2].alerts), reverse=True
    )


def test_a_sitemap_fetches_new_and_changed_pages_only(site: Site, db_url: str) -> None:
    page = (
        "<html><head><title>{t}</title></head><body><article><h1>{t}</h1><p>{p}</p><p>{p}</p></article></body></html>"
    )
    site.pages["/a"] = page.format(t="Budget news", p=CALM[0]).encode()
    site.pages["/b"] = page.format(t="Train news", p=CALM[1]).encode()

    def sitemap(lastmod_b: str) -> bytes:
        return (
            "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"<url><loc>{site.url}/a</loc><lastmod>2024-05-01</lastmod></url>"
            f"<url><loc>{site.url}/b</loc><lastmod>{lastmod_b}</lastmod></url></urlset>"
        ).encode()

    site.pages["/sitemap.xml"] = sitemap("2024-05-01")
    store = Store(db_url)

    def between(done) -> None:  # type: ignore[no-untyped-def]
        if done.number == 2:  # page b is edited, and the sitemap says so
            site.pages["/b"] = page.format(t="Train news", p=CALM[1] + " Two stations will close.").encode()
            site.pages["/sitemap.xml"] = sitemap("2024-05-02")

    rounds = list(watch([f"{site.url}/sitemap.xml"], store, interval=0, rounds=3, rules=(), on_round=between))
    assert [r.summary.analysed for r in rounds] == [2, 0, 1]
    assert rounds[2].summary.registered.changed == 1  # a new version of page b
    assert site.gets("/a") == [200] and site.gets("/b") == [200, 200]


def test_watch_reads_folders_again_and_a_cut_feed_is_this_rounds_status_not_a_failure(
    site: Site, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "one.txt").write_text(CALM[0], encoding="utf-8")
    whole = _feed("Outlet Z", [("z1", CALM[1], dt.datetime.now(dt.UTC))])
    site.pages["/cut.xml"] = whole[: whole.index(b"</description>") - 5]  # the download broke off mid-entry
    store = Store(f"sqlite:///{tmp_path / 'f.db'}")

    def between(done) -> None:  # type: ignore[no-untyped-def]
        if done.number == 1:
            (inbox / "two.txt").write_text(CALM[2], encoding="utf-8")
            (inbox / "one.txt").write_text(CALM[0] + " It was approved.", encoding="utf-8")
            site.pages["/cut.xml"] = whole

    feed = f"{site.url}/cut.xml"
    rounds = list(watch([str(inbox), feed], store, interval=0, rounds=2, rules=(), on_round=between))
    first, second = rounds
    assert first.summary.analysed == 1 and "feed is truncated or malformed" in first.polled[1].status
    assert store.failures() == []  # a broken download is not a lasting failure of the feed ...
    assert site.gets("/cut.xml") == [200, 200]  # ... and the next round asks for it whole, not conditionally
    reg = second.summary.registered
    assert (reg.new, reg.changed, second.summary.analysed) == (3, 1, 3)  # two.txt, one.txt's new version, z1


def test_watch_once_says_in_its_exit_status_that_a_source_failed(site: Site, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'o.db'}"
    res = CliRunner().invoke(app, ["watch", "--once", f"{site.url}/gone.xml", "--db", db, "--rule", "new_target"])
    out = " ".join(res.output.split())
    assert res.exit_code == 1 and f"{site.url}/gone.xml: HTTP 404" in out and "exit status 1" in out, out
    assert "Traceback" not in out


def test_sitemap_reading_ignores_entities_and_other_schemes() -> None:
    body = (
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>"
        b"<urlset><url><loc>&e;</loc></url><url><loc>file:///etc/passwd</loc></url>"
        b"<url><loc>https://x.test/a?b=1&amp;c=2</loc><lastmod>2024-01-01</lastmod></url></urlset>"
    )
    assert sitemap_entries(body) == (False, [("https://x.test/a?b=1&c=2", "2024-01-01")])


def test_fetching_is_bounded(site: Site) -> None:
    site.pages["/big"] = b"x" * 5000
    with pytest.raises(FetchError, match="over the 1,000-byte limit"):
        fetch(f"{site.url}/big", max_bytes=1000)
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(f"{site.url}/missing")
    with pytest.raises(FetchError, match="not an http"):
        fetch("file:///etc/passwd")


def test_a_new_name_calling_target_is_raised_once_after_learning_the_known_ones(db_url: str) -> None:
    store = Store(db_url)

    def save(text: str, phrase: str) -> None:
        start = text.index(phrase)
        span = Span(start=start, end=start + len(phrase), technique="Name_Calling,Labeling", score=0.8)
        store.save(Analysis(document=Document(id=text[:8], text=text, source="O"), spans=[span], model="m"))

    save("They call it the Kiev regime again.", "Kiev regime")
    rule = al.NewTarget()
    assert al.evaluate(store, (rule,), 0) == []  # the first evaluation learns Kiev
    save("Once more the Kiev regime was blamed.", "Kiev regime")
    save("Now the Brussels puppets are to blame.", "Brussels puppets")
    raised = al.evaluate(store, (rule,), 0)
    assert [(a.rule, a.subject) for a in raised] == [("new_target", "Brussels")]
    assert al.evaluate(store, (rule,), 0) == []  # raised once


def test_rules_files_are_checked(tmp_path: Path) -> None:
    good = tmp_path / "rules.toml"
    good.write_text(
        '[[rule]]\ntype = "technique_rate"\ndays = 2\ntechniques = ["Loaded_Language"]\n'
        '[[rule]]\ntype = "narrative_outlets"\noutlets = 4\n[deliver]\njsonl = "a.jsonl"\n'
    )
    rules, delivery = al.load_rules(good)
    assert rules == (al.TechniqueRate(days=2, techniques=("Loaded_Language",)), al.NarrativeSpread(outlets=4))
    assert delivery.jsonl == "a.jsonl"
    bad = tmp_path / "bad.json"
    bad.write_text('{"rule": [{"type": "technique_rate", "dayz": 2}]}')
    with pytest.raises(SpinlensError, match=r"bad.json: rule 1: unknown key 'dayz'"):
        al.load_rules(bad)
    bad.write_text('{"rule": [{"type": "technique_rate", "days": "two"}]}')
    with pytest.raises(SpinlensError, match=r"rule 1: 'days' must be a int"):
        al.load_rules(bad)
    bad.write_text('{"rule": [{"type": "technique_rate", "techniques": ["Name calling"]}]}')
    with pytest.raises(SpinlensError, match=r"rule 1: unknown technique 'Name calling'"):
        al.load_rules(bad)
    # the same on the command line (--rule): a comma inside a technique's name does not split the pairs
    cli = al.parse_rule("technique_rate:techniques=Name_Calling,Labeling|Loaded_Language,days=2,ratio=3")
    assert cli == al.TechniqueRate(techniques=("Name_Calling,Labeling", "Loaded_Language"), days=2, ratio=3.0)
    with pytest.raises(SpinlensError, match="'type' must be one of technique_rate, new_target, narrative_outlets"):
        al.parse_rule("nope:days=1")


def test_the_narrative_rule_is_skipped_without_matches_and_counts_outlets_with_them(db_url: str) -> None:
    from sqlalchemy import Column, Integer, MetaData, String, Table, insert

    store = Store(db_url)
    matches = Table(
        "narrative_matches", MetaData(), Column("id", Integer, primary_key=True), Column("analysis_id", Integer),
        Column("claim_id", String(200)),
    )  # fmt: skip
    matches.drop(store.engine, checkfirst=True)  # not one of spinlens's tables: left by an earlier run
    rule = al.NarrativeSpread(outlets=2, days=7)
    assert al.rule_notes(store, (rule,)) and al.evaluate(store, (rule,), 0) == []
    ids = [
        store.save(Analysis(document=Document(id=o, text=f"Claim text from {o}.", source=o), model="m"))
        for o in ("A", "B")
    ]
    matches.create(store.engine)
    try:
        with store.engine.begin() as c:
            c.execute(insert(matches), [{"analysis_id": i, "claim_id": "euvsdisinfo/123"} for i in ids])
        assert al.rule_notes(store, (rule,)) == []
        raised = al.evaluate(store, (rule,), 0)
        assert [(a.subject, a.details["outlets"]) for a in raised] == [("euvsdisinfo/123", 2)]
    finally:
        matches.drop(store.engine)


def test_watch_command_runs_one_at_a_time_and_sigterm_exits_cleanly(site: Site, tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    site.pages["/feed.xml"] = _feed("Outlet Y", [("c1", CALM[0], dt.datetime.now(dt.UTC))])
    db = f"sqlite:///{tmp_path / 'w.db'}"
    env = {**os.environ, "SPINLENS_PROGRESS": "0"}
    command = [sys.executable, "-m", "spinlens.cli", "watch", f"{site.url}/feed.xml", "--db", db]
    running = subprocess.Popen([*command, "--every", "3600"], env=env, stderr=subprocess.PIPE, text=True)
    engine = create_engine(db)

    def analysed() -> int:
        return analyses_in(engine)

    try:
        deadline = time.monotonic() + 240
        while analysed() < 1 and running.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)  # the daemon's first round has analysed the entry; it now sleeps for an hour
        once = subprocess.run([*command, "--once"], env=env, capture_output=True, text=True, timeout=300)
        assert once.returncode == 75 and "another spinlens batch is running" in once.stderr  # cron: try later
        running.send_signal(signal.SIGTERM)
        _, stderr = running.communicate(timeout=60)
    finally:
        running.kill()
        engine.dispose()
    assert running.returncode == 0, stderr
    assert "round 1" in stderr and "1 new" in stderr and "1 analysed" in stderr
    assert "stopped (SIGTERM)" in stderr and "Traceback" not in stderr
    store = Store(db)
    store.lock_run()  # the stopped watch released the database
    store.unlock_run()
