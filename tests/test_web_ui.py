"The chat page of nanochat_lit_web in headless Chromium: streaming, stop, regenerate, edit and resend, a new chat, the error banner."
import time

import pytest
from selenium.webdriver.common.by import By

from conftest import WebServer


def wait_until(condition, seconds=20, what='the page'):
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        time.sleep(0.02)
    return value


def streaming(browser): return browser.execute_script('return document.body.dataset.streaming') == 'true'
def replies(browser): return browser.find_elements(By.CSS_SELECTOR, '#messages .message.assistant .content')


def send(browser, text):
    box = browser.find_element(By.ID, 'input')
    box.clear(); box.send_keys(text)
    browser.find_element(By.ID, 'send').click()


def set_setting(browser, name, value):
    "Type `value` into the settings panel's field `name` (opening the panel if it is closed)."
    if not browser.find_element(By.ID, name).is_displayed(): browser.find_element(By.CSS_SELECTOR, '#settings summary').click()
    field = browser.find_element(By.ID, name)
    field.clear(); field.send_keys(value)


def page_errors(browser):
    return [e for e in browser.get_log('browser') if e['level'] == 'SEVERE' and e.get('source') != 'network']


@pytest.fixture(scope='module')
def rambling_server(rambling_base):
    server = WebServer(rambling_base)
    yield server
    server.stop()


def test_stream_stop_regenerate(browser, rambling_server, tmp_path):
    browser.get(rambling_server.url)
    wait_until(lambda: 'nanochat_lit-sft-rambling' in browser.page_source, what='the model name')
    set_setting(browser, 'max-tokens', '4000')  # a reply of seconds, not a fraction of one: time to press stop mid-reply
    send(browser, 'Tell me everything')
    wait_until(lambda: streaming(browser), what='streaming to start')
    lengths, deadline = [], time.monotonic() + 20
    while len(set(lengths)) < 4:  # the reply grows in steps while it streams: token by token, not all at once
        assert time.monotonic() < deadline, f'the reply did not grow in steps: lengths seen {sorted(set(lengths))}'
        lengths.append(len(wait_until(lambda: replies(browser), what='a reply')[-1].text))
        time.sleep(0.03)
    assert streaming(browser) and not browser.find_element(By.ID, 'send').is_enabled()
    browser.find_element(By.ID, 'stop').click()
    wait_until(lambda: not streaming(browser), what='the reply to stop')
    stopped = replies(browser)[-1].text
    time.sleep(0.5)
    assert replies(browser)[-1].text == stopped and len(stopped) > 0  # nothing arrives after stop; the partial reply stays
    assert 'Stopped' in browser.find_element(By.CSS_SELECTOR, '#messages .message.assistant:last-child').text
    browser.save_screenshot(str(tmp_path/'stopped.png'))

    set_setting(browser, 'max-tokens', '200')
    browser.find_element(By.CSS_SELECTOR, '.regenerate').click()
    wait_until(lambda: streaming(browser), what='the regenerated reply to start')
    wait_until(lambda: not streaming(browser), seconds=60, what='the regenerated reply to finish')
    assert len(replies(browser)) == 1 and replies(browser)[0].text not in ('', stopped)
    browser.save_screenshot(str(tmp_path/'regenerated.png'))
    assert (tmp_path/'regenerated.png').stat().st_size > 10_000
    assert page_errors(browser) == []


def test_real_replies_edit_resend_new_chat(browser, memorized_base):
    server = WebServer(memorized_base)
    try:
        browser.get(server.url)
        set_setting(browser, 'temperature', '0')
        send(browser, '你好')
        wait_until(lambda: replies(browser) and not streaming(browser) and replies(browser)[-1].text, what='a reply')
        assert replies(browser)[-1].text == '你好！我能帮你什么？🙂'

        browser.find_element(By.CSS_SELECTOR, '.message.user .edit').click()
        edit = browser.find_element(By.CSS_SELECTOR, 'textarea.edit-box')
        edit.clear(); edit.send_keys('What is 2+2?')
        browser.find_element(By.CSS_SELECTOR, '.resend').click()
        wait_until(lambda: not streaming(browser) and replies(browser) and replies(browser)[-1].text == '2+2 = 4.', what='the new reply')
        assert [m.text for m in browser.find_elements(By.CSS_SELECTOR, '.message.user .content')] == ['What is 2+2?']

        browser.find_element(By.ID, 'new-chat').click()
        assert browser.find_elements(By.CSS_SELECTOR, '#messages .message') == []
        assert page_errors(browser) == []

        banner = browser.find_element(By.ID, 'error-banner')
        assert not banner.is_displayed()
        server.stop()  # the server goes away: the page says so within one health poll
        wait_until(banner.is_displayed, seconds=15, what='the error banner')
    finally:
        server.stop()
