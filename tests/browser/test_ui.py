"""The UI in headless Debian chromium (Playwright), against `make run`'s stack and against real nginx.

Playwright never downloads a browser here: it drives the system's chromium by path.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import OUTPUT, install_system_deps

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api")

COURSE_TEXT = "🎓 This fall I am taking Introduction to Artificial Intelligence and Linear Algebra."
SCREENSHOTS = OUTPUT / "screenshots"


@pytest.fixture(scope="module")  # not longer: sync Playwright holds an event loop that asyncio.run refuses
def browser() -> Iterator:
    install_system_deps("chromium")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=shutil.which("chromium"),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture(params=["stack", "nginx_stack"])
def base_url(request) -> str:
    """Every UI test runs on `make run`'s one-port stack and behind nginx with its real headers."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    page = context.new_page()
    problems: list[str] = []  # a CSP violation, a script error or a missing UI file shows up here

    def on_console(message) -> None:
        # Failed API calls are logged too; the error tests cause them on purpose and check the page.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 and "/api/" not in r.url else None,
    )
    page.set_default_timeout(30_000)
    page.goto(base_url + "/")
    yield page
    context.close()
    assert not problems, problems


def screenshot(page, request, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    backend = request.node.callspec.params["base_url"]
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{backend}.png"))


CHAT_URL = "/api/openai/v1/chat/completions"
LONG = "how do I prepare for exams?"  # the tiny model answers in about 20 tokens, above its reply gate


def chat_request(page, message: str) -> dict:
    """Type `message` into the prompt, press Enter; returns the OpenAI request the page sent."""
    with page.expect_request(lambda r: r.url.endswith(CHAT_URL)) as sent:
        page.locator("#chat-input").fill(message)
        page.locator("#chat-input").press("Enter")
    return json.loads(sent.value.post_data)


def last_bot_line(page, count: int) -> str:
    """The text of the `count`-th reply once it has streamed in completely."""
    line = page.locator(".line.bot").nth(count - 1)
    line.wait_for()
    page.wait_for_function(
        "n => !document.querySelectorAll('.line.bot')[n].classList.contains('streaming')", arg=count - 1
    )
    return line.inner_text()


def whole_reply(base_url: str, request: dict) -> str:
    """What the route answers the same request with `stream: false`: the reply the page must show."""
    body = {**request, "stream": False}
    return httpx.post(base_url + CHAT_URL, json=body, timeout=60).json()["choices"][0]["message"]["content"]


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def throttle(page, bytes_per_s: int):
    """DevTools' network throttling of the page's downloads (-1: none); returns the session."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    set_throughput(cdp, bytes_per_s)
    return cdp


def set_throughput(cdp, bytes_per_s: int) -> None:
    conditions = {"offline": False, "latency": 0, "downloadThroughput": bytes_per_s, "uploadThroughput": -1}
    cdp.send("Network.emulateNetworkConditions", conditions)


def test_chat_sends_and_shows_a_reply(page, request, base_url):
    assert page.locator("#chat-input").evaluate("e => e.tagName") == "TEXTAREA"  # a real input
    assert page.evaluate("document.activeElement.id") == "chat-input"
    sent = chat_request(page, "hi")
    assert sent == {"model": "chatbot", "messages": [user("hi")], "stream": True}
    reply = last_bot_line(page, 1)
    assert reply == whole_reply(base_url, sent) and reply.strip()  # greedy decoding: the same reply every time
    v1 = httpx.post(f"{base_url}/api/v1/models/chatbot:predict", json={"instances": [{"message": "hi"}]}, timeout=60)
    assert reply == v1.json()["predictions"][0]["response"]  # the guarded reply, as on every route
    assert page.locator(".line.user").all_inner_texts() == ["hi"]
    assert page.locator(".line.loading, .line.streaming, .line.stopped").count() == 0
    screenshot(page, request, "chat")


def test_a_reply_the_model_was_unsure_of_is_replaced_by_the_guarded_one(page, base_url):
    """The tiny model's reply gate: the page shows what V1 answers, not the text it streamed."""
    message = "purple elephants calculate my taxes"
    sent = chat_request(page, message)
    shown = last_bot_line(page, 1)
    v1 = httpx.post(f"{base_url}/api/v1/models/chatbot:predict", json={"instances": [{"message": message}]}, timeout=60)
    assert shown == whole_reply(base_url, sent) == v1.json()["predictions"][0]["response"]


def test_a_reply_shows_while_it_streams_and_esc_stops_it(page, request, base_url):
    """DevTools' network throttling stretches a reply the tiny model writes in milliseconds over
    seconds, so the test can look at the screen mid-reply and press Esc there."""
    message = LONG  # answered at length, above the reply gate
    full = whole_reply(base_url, {"model": "chatbot", "messages": [user(message)]})
    cdp = throttle(page, 400)
    chat_request(page, message)
    line = page.locator(".line.bot").first
    page.wait_for_function("() => (document.querySelector('.line.bot.streaming') || {}).textContent")
    partial = line.inner_text()
    assert page.locator(".line.bot.streaming").count() == 1  # still coming in
    assert partial and full.startswith(partial.rstrip("█")) and len(partial) < len(full)
    screenshot(page, request, "chat-streaming")

    page.keyboard.press("Escape")
    page.locator(".line.bot.stopped").wait_for()
    page.wait_for_timeout(1500)  # nothing more arrives after the stop
    stopped = page.evaluate("document.querySelector('.line.bot').firstChild.textContent")
    assert full.startswith(stopped) and len(stopped) < len(full)
    assert page.locator("#chat-stop").is_hidden() and page.locator(".line.streaming").count() == 0

    set_throughput(cdp, -1)  # unthrottled
    follow_up = chat_request(page, "hi")  # the prompt takes the next message at once
    assert follow_up["messages"] == [user(message), {"role": "assistant", "content": stopped}, user("hi")]
    assert last_bot_line(page, 2) == whole_reply(base_url, follow_up)


def test_a_new_message_while_a_reply_streams_stops_it_and_goes_on(page, base_url):
    cdp = throttle(page, 400)
    chat_request(page, LONG)
    page.wait_for_function("() => (document.querySelector('.line.bot.streaming') || {}).textContent")
    follow_up = chat_request(page, "hi")  # sent once the streaming reply has been stopped
    set_throughput(cdp, -1)  # unthrottled
    assert page.locator(".line.bot").first.get_attribute("class") == "line bot stopped"
    assert [m["role"] for m in follow_up["messages"]] == ["user", "assistant", "user"]
    assert last_bot_line(page, 2) == whole_reply(base_url, follow_up)


def test_chat_shows_which_model_answers(page, request, base_url):
    card = httpx.get(f"{base_url}/api/v1/models/chatbot", timeout=30).json()["model"]
    line = page.locator("#model-card")
    line.wait_for(state="visible")
    text = line.inner_text()
    millions = card["parameters"] / 1e6
    assert text.startswith(f"model: {card['name']}, ")
    assert f"{millions:.1f}M parameters" in text or f"{millions:.0f}M parameters" in text
    assert ("offline demo model" in text) is card["offline_demo"] is True  # make run serves the demo
    screenshot(page, request, "model-card")


def test_follow_up_sends_the_history(page, base_url):
    chat_request(page, "hi")
    first = last_bot_line(page, 1)
    sent = chat_request(page, "how are you?")
    assert sent["messages"] == [user("hi"), {"role": "assistant", "content": first}, user("how are you?")]
    assert last_bot_line(page, 2) == whole_reply(base_url, sent)


def test_clear_empties_the_terminal_and_the_history(page):
    chat_request(page, "hi")
    last_bot_line(page, 1)
    page.locator("#chat-input").fill("clear")
    page.locator("#chat-input").press("Enter")
    assert page.locator("#terminal .line").count() == 0
    assert chat_request(page, "hello")["messages"] == [user("hello")]


def test_keyboard_shift_enter_and_recall(page):
    chat_request(page, "hi there")
    last_bot_line(page, 1)
    prompt = page.locator("#chat-input")
    prompt.press("ArrowUp")
    assert prompt.input_value() == "hi there"
    prompt.fill("")
    prompt.type("line one")
    prompt.press("Shift+Enter")
    prompt.type("line two")
    assert prompt.input_value() == "line one\nline two"  # Shift+Enter adds a line, sends nothing
    assert page.locator(".line.user").count() == 1


def test_extractor_highlights_and_lists_courses(page, request):
    page.get_by_role("tab", name="extract courses").click()
    page.locator("#extract-input").fill(COURSE_TEXT)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/models/extractor:predict")):
        page.get_by_role("button", name="extract").click()
    marks = page.locator("#highlighted mark")
    marks.first.wait_for()
    # offsets are code points: the emoji before them must not shift the highlights
    assert marks.all_inner_texts() == ["Introduction to Artificial Intelligence", "Linear Algebra"]
    assert page.locator("#highlighted").inner_text() == COURSE_TEXT
    items = page.locator("#course-list li").all_inner_texts()
    assert [i.rsplit(" ", 1)[0] for i in items] == ["Introduction to Artificial Intelligence", "Linear Algebra"]
    assert all(i.endswith("%") for i in items)
    assert page.locator("#extract-status").inner_text() == "2 courses found"
    screenshot(page, request, "extract")


def test_server_errors_are_readable(page, request):
    page.get_by_role("tab", name="extract courses").click()
    page.locator("#extract-input").fill("x " * 1200)  # 2400 characters: over the extractor's limit
    page.get_by_role("button", name="extract").click()
    status = page.locator("#extract-status.error")
    status.wait_for()
    assert status.inner_text() == (
        "error 400 — the request was refused: instances[0].text: text has 2400 characters; at most 2000"
    )
    assert page.locator("#extract-result").is_hidden()
    screenshot(page, request, "extract-error")

    page.get_by_role("tab", name="chat").click()
    page.route("**" + CHAT_URL, lambda route: route.abort())
    page.locator("#chat-input").fill("hi")
    page.locator("#chat-input").press("Enter")
    error = page.locator(".line.error")
    error.wait_for()
    assert error.inner_text().startswith("cannot reach the server")
    screenshot(page, request, "chat-error")
