"""The review console on the real pipeline: a worker, the sink and the console share the
session's Kafka, Redis and ClickHouse; a real browser (chromium) logs in, works the queue
and confirms fraud, and the outcome is followed to the review topic, the final decision
downstream, the label in ClickHouse and a later linked application's fraud link.
Permission, XSS, CSRF and race tests drive the same console."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from features.identity import hash_identifier
from reviews.privacy import Sealer
from schemas import codec_for
from schemas.topics import APPLICATIONS, FINAL_DECISIONS, REVIEWS
from sinks.rows import application_converter
from streams.settings import Settings
from tests.harness import consume_until, publish, wait_until
from tests.records import application

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
USERS = {"rita": "reviewer", "rob": "reviewer", "sam": "senior_reviewer", "ana": "analyst",
         "ada": "admin"}


@dataclass
class Loop:
    settings: Settings
    url: str
    tag: str
    ch: Any
    redis: Any

    def app(self, suffix: str, **fields: Any) -> str:
        """Publish a cold-start application (bureau score in the review band)."""
        aid = f"{self.tag}-{suffix}"
        rec = application(application_id=aid, event_time=int(time.time() * 1000),
                          bureau_score=650, session_id=f"s-{aid}", device_id=f"d-{aid}",
                          national_id=f"N{uuid.uuid4().hex[:8]}", email=f"{aid}@example.com",
                          phone=f"+4477009{abs(hash(aid)) % 100000:05d}", ip="198.51.100.9",
                          address={"line1": f"{suffix} Road", "city": "Leeds",
                                   "postcode": "LS1 1AA", "country": "GB"})
        rec.update(fields)
        publish(self.settings.kafka, [(APPLICATIONS.name, aid.encode(),
                                       codec_for("loan_application").encode(rec), None)])
        return aid

    def scalar(self, sql: str, **params: Any) -> Any:
        rows = self.ch.query(sql, parameters=params).result_rows
        return rows[0][0] if rows else None

    def decided(self, aid: str) -> str:
        return str(wait_until(lambda: self.scalar(
            "SELECT decision FROM decisions_of_record WHERE application_id = {a:String}",
            a=aid), 90, f"the decision of {aid} in ClickHouse"))

    def stored(self, aid: str) -> None:
        wait_until(lambda: self.scalar("SELECT count() FROM applications WHERE "
                                       "application_id = {a:String}", a=aid), 60,
                   f"application {aid} in ClickHouse")

    def client(self, user: str | None = None) -> httpx.Client:
        c = httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)
        if user:
            page = c.get("/login")
            token = page.cookies["lr_login_csrf"]
            r = c.post("/login", data={"user": user, "password": PASSWORD, "csrf": token})
            assert r.status_code == 303, r.text
        return c


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def loop(kafka_bootstrap: str, redis_url: str, clickhouse_client: Any,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    import redis as redis_lib
    import uvicorn

    from streams.clients import analytics_client
    from streams.console.app import create_app
    from streams.console.compose import accounts, build_console
    from streams.sink.writer import ClickHouseSink, clickhouse_insert
    from streams.worker.kafka_loop import KafkaWorker

    tag = f"c{uuid.uuid4().hex[:8]}"
    state = tmp_path_factory.mktemp("console") / "state"
    state.mkdir()
    settings = Settings(state_dir=state, kafka_bootstrap=kafka_bootstrap, redis_url=redis_url,
                        hash_key="console-test", pii_key="console-pii", redis_prefix=tag,
                        worker_group=f"{tag}-w", worker_offset_reset="latest",
                        metrics_interval_s=3600, reload_interval_s=3600)
    from tests.integration.conftest import embedded_http

    server = embedded_http(clickhouse_client, state / "clickhouse.owner")  # as the sink serves
    stop = threading.Event()
    sink = ClickHouseSink(settings.kafka, clickhouse_insert(clickhouse_client),
                          group=f"{tag}-sink", max_age_s=0.2, offset_reset="latest",
                          applications=application_converter(b"console-test",
                                                             Sealer("console-pii").seal))
    worker = KafkaWorker(settings)
    threads = [threading.Thread(target=sink.run, args=(stop,), daemon=True),
               threading.Thread(target=worker.run, args=(stop,), daemon=True)]
    for t in threads:
        t.start()
    r = redis_lib.Redis.from_url(redis_url)
    for name, role in USERS.items():
        accounts(settings, r).add(name, PASSWORD, role)
    ch = analytics_client(settings)  # the console's own client, as `console serve` builds it
    port = _free_port()
    web = uvicorn.Server(uvicorn.Config(create_app(build_console(settings, r, ch)),
                                        host="127.0.0.1", port=port, log_level="warning"))
    threads.append(threading.Thread(target=web.run, daemon=True))
    threads[-1].start()
    wait_until(lambda: len(worker.owned) and len(sink.owned) and web.started, 90,
               "worker, sink and console to start")
    try:
        yield Loop(settings, f"http://127.0.0.1:{port}", tag, analytics_client(settings), r)
    finally:
        web.should_exit = True
        stop.set()
        for t in threads:
            t.join(30)
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from tests.browser import chrome

    driver, profile = chrome()
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _login(driver: Any, url: str, user: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{url}/login")
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    _submit(driver, "login")


def _submit(driver: Any, button_id: str) -> None:
    """Click a form's submit button and wait for the page it posts to: reading (or loading)
    the next page before the old one is gone reads stale elements or cuts the POST short."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, button_id).click()
    WebDriverWait(driver, 30).until(staleness_of(page))


def _fresh(step: Any, tries: int = 5) -> Any:
    """``step()`` again when htmx swapped the element between finding and using it (the
    queue's rows are replaced every 10 s)."""
    from selenium.common.exceptions import StaleElementReferenceException

    for i in range(tries):
        try:
            return step()
        except StaleElementReferenceException:
            if i == tries - 1:
                raise
            time.sleep(0.2)
    return None


def test_a_reviewer_confirms_fraud_and_the_loop_closes(loop: Loop, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    aid = loop.app("fraud")
    assert loop.decided(aid) == "REVIEW"
    loop.stored(aid)
    _login(browser, loop.url, "rita")
    wait_until(lambda: aid in browser.page_source or browser.refresh(), 30,
               "the case in the queue")
    assert "open" in _fresh(lambda: browser.find_element(By.ID, "headline").text)
    _fresh(lambda: browser.find_element(By.LINK_TEXT, aid).click())
    assert browser.find_element(By.ID, "decision").text == "REVIEW"
    assert "•••" in browser.find_element(By.ID, "pii-national_id").text  # masked by default
    _submit(browser, "claim")
    assert "the case is yours" in browser.find_element(By.ID, "message").text
    shot = os.environ.get("LOANRISK_CONSOLE_SCREENSHOT")  # docs/console.png is made so
    if shot:
        browser.save_screenshot(shot)
    Select(browser.find_element(By.ID, "action")).select_by_value("CONFIRM_FRAUD")
    _submit(browser, "submit-action")
    assert "final decision DECLINE published" in browser.find_element(By.ID, "message").text

    def on(topic: str) -> list[dict[str, Any]]:
        codec = codec_for({REVIEWS.name: "review_event",
                           FINAL_DECISIONS.name: "final_decision"}[topic])
        msgs = consume_until(loop.settings.kafka, [topic],
                             lambda ms: any(m.key() == aid.encode() for m in ms), 30)
        return [codec.decode(m.value()) for m in msgs if m.key() == aid.encode()]

    [event] = on(REVIEWS.name)
    assert (event["action"], event["reviewer"], event["original_decision"], event["final"]) \
        == ("CONFIRM_FRAUD", "rita", "REVIEW", True)
    [final] = on(FINAL_DECISIONS.name)
    assert (final["decision"], final["original_decision"], final["reviewer"]) \
        == ("DECLINE", "REVIEW", "rita")
    assert [r["code"] for r in final["reason_codes"]] == ["P-FRAUD-DECLINE"]
    label = wait_until(lambda: loop.ch.query(
        "SELECT source, label_fraud, labelled_by FROM labels_by_source "
        "WHERE application_id = {a:String}", parameters={"a": aid}).result_rows, 30,
        "the review label in ClickHouse")
    assert [tuple(x) for x in label] == [("review", 1, "rita")]

    # the workers' fraud links hold the confirmation: a later application on the device
    device = hash_identifier(b"console-test", "device", f"d-{aid}")
    wait_until(lambda: loop.redis.exists(f"{loop.tag}:f:dev:{device}"), 30,
               "the fraud flag on the confirmed application's device")
    later = loop.app("later", device_id=f"d-{aid}")
    loop.decided(later)
    linked = wait_until(lambda: loop.scalar(
        "SELECT values[indexOf(names, 'graph_fraud_linked')] FROM feature_vectors_latest "
        "WHERE application_id = {a:String}", a=later), 30, "the later feature vector")
    assert linked == 1.0
    # and the case page of the later application shows the link to confirmed fraud
    loop.stored(later)
    browser.get(f"{loop.url}/case/{later}")
    links = browser.find_element(By.ID, "links").text
    assert aid in links and "confirmed" in links


def test_an_applicant_named_script_renders_as_text(loop: Loop, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    name = "<script>window.__xss=1</script>"
    aid = loop.app("xss", first_name=name, last_name='<img src=x onerror="window.__xss=2">')
    loop.decided(aid)
    loop.stored(aid)
    _login(browser, loop.url, "rita")
    browser.get(f"{loop.url}/case/{aid}")
    _submit(browser, "reveal")
    assert browser.find_element(By.ID, "pii-first_name").text == name
    assert browser.find_element(By.ID, "pii-last_name").text.startswith("<img")
    assert browser.execute_script("return window.__xss === undefined")
    # the reveal was audited before the data was shown
    wait_until(lambda: loop.scalar(
        "SELECT count() FROM console_audit WHERE kind = 'REVEAL' AND user = 'rita' "
        "AND application_id = {a:String}", a=aid), 30, "the REVEAL audit row")


def test_no_page_without_login_and_roles_are_enforced(loop: Loop) -> None:
    anon = loop.client()
    for path in ("/", "/queue", "/queue/rows", "/case/x", "/dashboards", "/rules"):
        r = anon.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/login", path
    assert anon.post("/case/x/reveal").status_code == 401
    assert anon.get("/static/htmx.min.js").status_code == 200  # the only open files

    rita = loop.client("rita")
    cookie = rita.cookies.jar
    set_cookie = next(c for c in cookie if c.name == "lr_session")
    assert set_cookie.has_nonstandard_attr("HttpOnly")
    r = rita.get("/rules")
    assert r.status_code == 403
    csrf = _csrf(rita, "/queue")
    r = rita.post("/rules/release", data={"csrf": csrf, "rules_yaml": "version: x"})
    assert r.status_code == 403
    wait_until(lambda: loop.scalar(
        "SELECT count() FROM console_audit WHERE kind = 'DENIED' AND user = 'rita' "
        "AND detail LIKE '%release_rules%'"), 30, "the DENIED audit rows")
    ana = loop.client("ana")
    assert ana.get("/rules").status_code == 200
    assert ana.get("/dashboards/review_outcomes.svg").headers["content-type"].startswith(
        "image/svg+xml")
    assert ana.post("/case/x/reveal", data={"csrf": _csrf(ana, "/rules")}).status_code == 403


def _csrf(c: httpx.Client, path: str) -> str:
    import re

    m = re.search(r'name="csrf" value="([^"]+)"', c.get(path).text)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def test_a_cross_site_form_is_refused(loop: Loop) -> None:
    aid = loop.app("csrf")
    loop.decided(aid)
    rob = loop.client("rob")
    for data in ({}, {"csrf": "forged"}):
        r = rob.post(f"/case/{aid}/claim", data=data)
        assert r.status_code == 403 and "stale" in r.text
    assert loop.client("rob").get(f"/case/{aid}").status_code == 200
    assert (loop.redis.get(f"{loop.tag}:console:claim:{aid}") or b"") != b"rob"


def test_two_reviewers_racing_for_one_case_get_one_winner(loop: Loop) -> None:
    aid = loop.app("race")
    loop.decided(aid)
    loop.stored(aid)
    clients = {u: loop.client(u) for u in ("rita", "rob")}
    tokens = {u: _csrf(c, f"/case/{aid}") for u, c in clients.items()}
    results: dict[str, str] = {}
    start = threading.Barrier(2)

    def go(user: str) -> None:
        c = clients[user]
        start.wait()
        r = c.post(f"/case/{aid}/claim", data={"csrf": tokens[user]})
        results[user] = r.headers.get("location", "")

    threads = [threading.Thread(target=go, args=(u,)) for u in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [u for u, loc in results.items() if "yours" in loc]
    assert len(winners) == 1, results
    loser = "rob" if winners == ["rita"] else "rita"
    r = clients[loser].post(f"/case/{aid}/action",
                            data={"csrf": tokens[loser], "action": "CONFIRM_FRAUD"})
    assert r.status_code == 409 and "is working this case" in r.text
    r = clients[winners[0]].post(f"/case/{aid}/action", data={
        "csrf": tokens[winners[0]], "action": "DECLINE", "reason_codes": "H-INCOME"})
    assert r.status_code == 303 and "DECLINE%20published" in r.headers["location"].replace(
        " ", "%20")
    r = clients[winners[0]].post(f"/case/{aid}/action", data={  # a second final: refused
        "csrf": tokens[winners[0]], "action": "CONFIRM_FRAUD"})
    assert r.status_code == 409 and "already decided" in r.text


def test_simulated_reviewers_close_the_loop_through_the_console_path(loop: Loop) -> None:
    """The demo's simulated reviewers act through the console's own checks and publishing:
    their verdicts become review events, final decisions and review labels like a
    person's; a case a person claimed is left to them; the demo's counts read them back."""
    import pandas as pd

    from simulator.reviewers import ReviewersConfig, ReviewTeam
    from streams.console.compose import build_console
    from streams.ops.demo_reviews import review_counts, review_line
    from streams.ops.review_shift import ReviewShift

    # IPs of their own: an earlier test confirmed fraud on the shared one (a fraud link)
    fraud, genuine, taken = (loop.app(n, ip=f"203.0.113.{i}") for i, n in
                             enumerate(("simfraud", "simgood", "simtaken"), 1))
    truth = {fraud: ("third_party", 0.05), genuine: ("none", 0.05), taken: ("none", 0.05)}
    decisions = []
    for aid in truth:
        assert loop.decided(aid) == "REVIEW"
        loop.stored(aid)
        decisions.append({"application_id": aid, "decision": "REVIEW", "decided_at": loop.scalar(
            "SELECT toUnixTimestamp64Milli(decided_at) FROM decisions_of_record "
            "WHERE application_id = {a:String}", a=aid)})
    console = build_console(loop.settings, loop.redis, loop.ch)
    assert console.casework.state.claim(taken, "rob")[0]  # a person got there first
    team = ReviewTeam(ReviewersConfig(reviewers=2, fraud_caught=1.0, genuine_cleared=1.0,
                                      pickup_seconds=0, handle_seconds=0.05), seed=1)
    shift = ReviewShift(team, console, truth.get)
    shift.see(decisions + decisions)  # a redelivered decision is planned once
    assert shift.stats.planned == 3
    wait_until(lambda: shift.service(int(time.time() * 1000) + 5_000) or not shift.pending,
               30, "the simulated reviewers to finish")
    s = shift.stats
    assert (s.worked, s.confirmed_fraud, s.cleared, s.left_to_people, s.errors) \
        == (2, 1, 1, 1, [])

    msgs = consume_until(loop.settings.kafka, [REVIEWS.name, FINAL_DECISIONS.name],
                         lambda ms: sum(m.key() in (fraud.encode(), genuine.encode())
                                        and m.topic() == FINAL_DECISIONS.name
                                        for m in ms) >= 2, 30)
    codecs = {REVIEWS.name: codec_for("review_event"),
              FINAL_DECISIONS.name: codec_for("final_decision")}
    mine = [(m.topic(), codecs[m.topic()].decode(m.value())) for m in msgs
            if m.key() in (fraud.encode(), genuine.encode(), taken.encode())]
    events = [(r["application_id"], r["action"], r["role"]) for t, r in mine if t == REVIEWS.name]
    assert sorted(events) == sorted([(fraud, "CONFIRM_FRAUD", "reviewer"),
                                     (genuine, "CLEAR_GENUINE", "reviewer"),
                                     (genuine, "APPROVE", "reviewer")])
    finals = {r["application_id"]: r for t, r in mine if t == FINAL_DECISIONS.name}
    assert finals[fraud]["decision"] == "DECLINE" and finals[genuine]["decision"] == "APPROVE"
    assert finals[fraud]["reviewer"].startswith("sim-reviewer-")
    offer = finals[genuine]["offer"]
    policy = console.casework.policy.for_product(finals[genuine]["product"]).offer
    assert offer["term_months"] in policy.terms and offer["amount"] >= policy.min_amount
    assert taken not in finals and console.casework.state.holder(taken) == "rob"

    frame = pd.DataFrame({"application_id": list(truth),
                          "fraud_type": [t[0] for t in truth.values()]})
    counts = wait_until(lambda: (c := review_counts(loop.ch, frame))["labels"] == 2 and c,
                        30, "the two review labels in ClickHouse")
    assert counts == {"review_cases": 3, "worked": 2, "labels": 2, "confirmed_fraud": 1,
                      "cleared": 1, "accuracy": 1.0}
    assert "reviews worked 2 of 3" in review_line(counts) and "accuracy vs truth 100.0%" \
        in review_line(counts)


def test_four_eyes_a_senior_countersigns_an_approval_above_the_limit(loop: Loop,
                                                                      browser: Any) -> None:
    """In the browser: a reviewer approves above the case's grade limit, which waits for a
    senior; the reviewer cannot countersign it, a senior does, and the final decision
    downstream names both."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    aid = loop.app("foureyes", ip="203.0.113.20")  # not linked to the confirmed fraud
    assert loop.decided(aid) == "REVIEW"
    loop.stored(aid)

    def act(action: str, amount: float | None = None) -> str:
        Select(browser.find_element(By.ID, "action")).select_by_value(action)
        if amount is not None:
            browser.find_element(By.ID, "amount").send_keys(f"{amount:.0f}")
        _submit(browser, "submit-action")
        return str(browser.find_element(By.ID, "message").text)

    _login(browser, loop.url, "rita")
    browser.get(f"{loop.url}/case/{aid}")
    _submit(browser, "claim")
    ceiling = float(browser.find_element(By.ID, "amount").get_attribute("max"))
    legend = browser.find_element(By.CSS_SELECTOR, "#action-form legend").text
    assert f"up to {ceiling:,.0f} with a countersignature" in legend
    assert "countersignature (four eyes)" in act("APPROVE", ceiling)
    assert "awaits a senior" in browser.find_element(By.ID, "pending").text
    assert "only a senior reviewer can countersign" in act("COUNTERSIGN")

    _login(browser, loop.url, "sam")
    browser.get(f"{loop.url}/case/{aid}")
    assert "final decision APPROVE published" in act("COUNTERSIGN")
    [final] = [codec_for("final_decision").decode(m.value()) for m in consume_until(
        loop.settings.kafka, [FINAL_DECISIONS.name],
        lambda ms: any(m.key() == aid.encode() for m in ms), 30) if m.key() == aid.encode()]
    assert (final["decision"], final["reviewer"], final["second_reviewer"],
            final["review_action"]) == ("APPROVE", "rita", "sam", "APPROVE")
    assert final["offer"]["amount"] == ceiling


def test_the_analyst_dashboards_render_every_plot(loop: Loop, browser: Any) -> None:
    """Volume and approval by product, latency, dead letters, drift, vintages and roll
    rates, review outcomes: each an SVG the browser draws, from ClickHouse."""
    from selenium.webdriver.common.by import By

    _login(browser, loop.url, "ana")
    browser.get(f"{loop.url}/dashboards")
    wanted = {"volume_by_product", "approval_rate_by_product", "latency_p99_ms", "dead_letters",
              "feature_drift_psi", "vintages", "roll_rates", "review_outcomes"}
    shown = {i.get_attribute("alt") for i in browser.find_elements(By.CSS_SELECTOR,
                                                                   ".plots img")}
    assert wanted <= shown, wanted - shown
    drawn = wait_until(lambda: browser.execute_script(
        "const imgs = [...document.querySelectorAll('.plots img')];"
        "return imgs.every(i => i.complete) && imgs.filter(i => i.naturalWidth > 0)"
        ".map(i => i.alt);"), 60, "every plot drawn")
    assert set(drawn) == shown
    cookie = {"lr_session": browser.get_cookie("lr_session")["value"]}
    for name in wanted:  # every query ran (a failing one draws its error instead)
        svg = httpx.get(f"{loop.url}/dashboards/{name}.svg", cookies=cookie).text
        assert svg.startswith("<?xml") and "query failed" not in svg, name


def test_an_admin_manages_accounts_in_the_browser(loop: Loop, browser: Any) -> None:
    """The users page: an admin adds an account (it can log in), is refused a short
    password and removing themself, removes it again (its login ends); every change is
    audited; a reviewer cannot open the page."""
    from selenium.webdriver.common.by import By

    name = f"new-{loop.tag}"
    _login(browser, loop.url, "ada")
    browser.get(f"{loop.url}/users")
    assert "ada" in browser.find_element(By.ID, "users").text
    browser.find_element(By.ID, "new-user").send_keys(name)
    browser.find_element(By.ID, "new-password").send_keys("short")
    _submit(browser, "add")
    assert "at least 10 characters" in browser.find_element(By.ID, "message").text
    browser.find_element(By.ID, "new-user").send_keys(name)
    browser.find_element(By.ID, "new-password").send_keys(PASSWORD)
    _submit(browser, "add")  # the role select defaults to reviewer
    assert f"added {name} (reviewer)" in browser.find_element(By.ID, "message").text
    newbie = loop.client(name)  # logs in
    assert newbie.get("/queue").status_code == 200
    _submit(browser, "remove-ada")
    assert "cannot remove your own account" in browser.find_element(By.ID, "message").text
    _submit(browser, f"remove-{name}")
    assert f"removed {name}" in browser.find_element(By.ID, "message").text
    assert newbie.get("/queue").status_code == 303  # its session ended with the account
    assert loop.client("rita").get("/users").status_code == 403
    wait_until(lambda: loop.scalar(
        "SELECT count() FROM console_audit WHERE kind = 'USER_ADMIN' AND user = 'ada' "
        "AND detail LIKE {d:String}", d=f"%{name}%") == 2, 30, "the USER_ADMIN audit rows")
