"""The scenario editor in a real headless Chromium against a real appliance:
build a scenario with the mouse, see the problem of a dangling output on its
node, connect it, simulate, publish, bind the number, and a real carrier call
hears the new version's prompt and reaches an operator; then roll back."""
from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from appliance.base import store
from appliance.users import store as users
from tests import audio
from tests.conftest import TONES
from tests.web.browser import chromium, logged_in  # noqa: F401 (fixtures)


PASSWORD = "Editor-Adm1n-2026"
PROMPT_TONES = {"t-hello": 600, "t-other": 1500}


@pytest.fixture(scope="module")
def site(pbx):
    appliance, _carrier = pbx
    for name, freq in PROMPT_TONES.items():
        appliance.tone_prompt(name, freq)
    db = store.open_store(appliance.host_base / "korund.db", migrate=False)
    try:
        users.create(db, "admin", PASSWORD, "admin", language="ru")
    finally:
        db.close()
    return appliance.panel_url()


@pytest.fixture
def page(chromium, site):
    context, pg = logged_in(chromium, site, "admin", PASSWORD, locale="ru-RU", timeout=15000,
                            viewport={"width": 1400, "height": 1000})
    expect(pg.locator("h1")).to_have_text("Состояние")
    yield pg
    context.close()


def drag(page, source, target):
    """Press on *source*, move in steps, release over *target* (real mouse events)."""
    a, b = source.bounding_box(), target.bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=8)
    page.mouse.up()


def open_editor(page, site, name):
    page.goto(site + "/scenarios/" + name)
    expect(page.locator("#canvas[data-ready='1']")).to_have_count(1)


def test_build_check_simulate_publish_and_a_real_call_follows_it(page, site, appliance, carrier):
    page.click("#nav-scenarios")
    page.fill("#f-name", "hotline")
    page.fill("#f-title", "Горячая линия")
    page.click("#create")
    expect(page).to_have_url(re.compile(r"/scenarios/hotline$"))
    expect(page.locator("#canvas[data-ready='1']")).to_have_count(1)

    # Add a "play" node (the first one is the start) and give it a prompt.
    page.click("#add-play")
    play = page.locator("#node-play1")
    expect(play).to_have_class(re.compile(r"\bstart\b"))
    expect(page.locator("#props-title")).to_contain_text("play1")
    page.fill("#p-prompts", "t-hello")
    # Add a "route" node sending the call to the support group.
    page.click("#add-route")
    route = page.locator("#node-route1")
    page.select_option("#p-to", "group")
    page.select_option("#p-group", "support")
    # Move the route node with the mouse; it keeps its position.
    before = route.bounding_box()
    drag(page, route.locator(".kind"), page.locator("#canvas"))
    after = route.bounding_box()
    assert (round(after["x"]), round(after["y"])) != (round(before["x"]), round(before["y"]))

    # Save with play1's output dangling: the problem names it and the node is marked.
    page.click("#save")
    problem = page.locator("#problems li.problem[data-node='play1']")
    expect(problem).to_contain_text("выход «далее» никуда не ведёт")
    expect(play).to_have_class(re.compile(r"\bfaulty\b"))
    page.locator("#canvas").click(position={"x": 5, "y": 5})
    expect(page.locator("#props-hint")).to_be_visible()
    problem.click()
    expect(page.locator("#props-title")).to_contain_text("play1")
    expect(play).to_have_class(re.compile(r"\bselected\b"))
    page.click("#publish")
    expect(page.locator("#publish-result")).to_contain_text("Не опубликовано")

    # Connect play1's output to route1 by dragging from the port to the node.
    drag(page, play.locator("circle.port[data-output='next']"), route.locator("rect.box"))
    expect(page.locator("path.link[data-from='play1/next']")).to_have_count(1)
    page.click("#save")
    expect(page.locator("#no-problems")).to_be_visible()
    expect(play).not_to_have_class(re.compile(r"\bfaulty\b"))

    # Simulate with typed keys: the prompt list and the route show.
    page.fill("#sim-keys", "5")
    page.fill("#sim-ani", "4951112233")
    page.click("#simulate")
    expect(page.locator("#sim-steps li.sim-play")).to_contain_text("t-hello")
    expect(page.locator("#sim-steps li.sim-route")).to_contain_text("support")

    # Publish, bind the number, and check what is stored.
    page.click("#publish")
    expect(page.locator("#publish-result")).to_contain_text("1")
    expect(page.locator("#versions tr[data-version='1']")).to_have_count(1)
    page.fill("#bind-dnis", "100")
    page.click("#bind")
    expect(page.locator("#bind-result")).to_contain_text("100")
    expect(page.locator("#bound-numbers")).to_contain_text("100")
    page.goto(site + "/scenarios/")
    row = page.locator("#scenario-list tr", has_text="hotline")
    expect(row).to_contain_text("100")

    # A real call to 100 hears t-hello, then reaches an operator of support.
    before_id = appliance.last_call_id()
    call = carrier.call(ani="4951112233", dnis="100", hold=12)
    operator = call.answered_by_phone(timeout=60)["Phone"]
    call.ended()
    assert operator in TONES
    heard = audio.samples(call.recording())
    hello, op = audio.first_tone_at(heard, 600), audio.first_tone_at(heard, TONES[operator])
    assert hello is not None and op is not None and hello < op, (hello, op)
    row = appliance.call_row(ani="4951112233", since_id=before_id)
    assert row["route_source"] == "scenario" and row["grp"] == "support"


def test_edit_publish_again_and_roll_back(page, site, appliance, carrier):
    open_editor(page, site, "hotline")
    page.locator("#node-play1 .kind").click()
    page.fill("#p-prompts", "t-other")
    page.click("#publish")
    expect(page.locator("#versions tr[data-version='2']")).to_have_count(1)
    expect(page.locator("#publish-result")).to_contain_text("2")
    page.click("#rollback-1")
    expect(page.locator("#publish-result")).to_contain_text("1")
    expect(page.locator("#versions tr[data-version='3']")).to_have_count(1)
    page.locator("#node-play1 .kind").click()
    expect(page.locator("#p-prompts")).to_have_value("t-hello")
    # Wheel and buttons zoom the canvas; the graph is unchanged.
    scale = lambda: float(re.search(r"scale\(([0-9.]+)\)", page.locator("#viewport").get_attribute("transform"))[1])  # noqa: E731
    k0 = scale()
    page.click("#zoom-in")
    expect(page.locator("#viewport")).not_to_have_attribute("transform", re.compile(rf"scale\({k0}\)"))
    k1 = scale()
    box = page.locator("#canvas").bounding_box()
    page.mouse.move(box["x"] + 100, box["y"] + 100)
    page.mouse.wheel(0, 200)
    page.wait_for_function(f"!document.querySelector('#viewport').getAttribute('transform').includes('scale({k1})')")
    assert k1 > k0 and scale() < k1
    with appliance.db() as conn:
        graph = json.loads(conn.execute(
            "SELECT v.graph FROM scenario_versions v JOIN scenarios s ON s.id = v.scenario_id "
            "WHERE s.name = 'hotline' ORDER BY v.version DESC LIMIT 1").fetchone()[0])
    assert graph["nodes"]["play1"]["prompts"] == ["t-hello"]
    assert graph["nodes"]["play1"]["next"] == {"next": "route1"}
    assert isinstance(graph["nodes"]["route1"]["pos"], list)


def test_menu_keys_a_condition_form_and_deleting_nodes(page, site, appliance, carrier):
    open_editor(page, site, "hotline")
    page.click("#add-menu")
    menu = page.locator("#node-menu1")
    page.fill("#p-prompts", "t-hello, t-other")
    page.fill("#new-key", "x")
    page.click("#add-key")
    expect(page.locator("#menu-keys .error")).to_contain_text("0–9")
    page.fill("#new-key", "1")
    page.click("#add-key")
    port = menu.locator("circle.port[data-output='key:1']")
    expect(port).to_have_class(re.compile(r"\bdangling\b"))
    drag(page, port, page.locator("#node-route1 rect.box"))
    expect(page.locator("path.link[data-from='menu1/key:1']")).to_have_count(1)

    # The condition's form follows its test: weekdays show only for "weekday".
    page.click("#add-condition")
    expect(page.locator("#p-from")).to_be_visible()
    page.select_option("#p-test", "weekday")
    expect(page.locator("#p-from")).to_have_count(0)
    page.check("#p-days input[value='6']")
    page.check("#p-days input[value='7']")
    page.click("#save")
    problems = page.locator("#problems")
    expect(problems.locator("li[data-node='menu1']").first).to_be_visible()
    expect(problems.locator("li[data-node='condition1']").first).to_be_visible()
    draft = page.evaluate("""async () => (await (await fetch('/api/v1/scenarios/hotline')).json()).draft""")
    assert draft["nodes"]["menu1"]["options"] == {"1": "route1"}
    assert draft["nodes"]["menu1"]["prompts"] == ["t-hello", "t-other"]
    assert draft["nodes"]["condition1"]["days"] == [6, 7] and draft["nodes"]["condition1"]["test"] == "weekday"

    # Delete the condition with the keyboard and the menu with the button.
    page.locator("#node-condition1 .kind").click()
    page.keyboard.press("Delete")
    expect(page.locator("#node-condition1")).to_have_count(0)
    page.locator("#node-menu1 .kind").click()
    page.click("#delete-node")
    expect(menu).to_have_count(0)
    page.click("#save")
    expect(page.locator("#no-problems")).to_be_visible()
    draft = page.evaluate("""async () => (await (await fetch('/api/v1/scenarios/hotline')).json()).draft""")
    assert sorted(draft["nodes"]) == ["play1", "route1"] and draft["start"] == "play1"
