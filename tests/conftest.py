"What the browser tests share: Debian's Chromium, headless, making no network traffic of its own."
import shutil

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM, CHROMEDRIVER = shutil.which('chromium'), shutil.which('chromedriver')
# Without the background-networking flags Chromium keeps trying to reach Google's services, which a closed network refuses.
QUIET_HEADLESS = ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync')


@pytest.fixture(scope='module')
def browser():
    "A headless Chromium at a desktop window size (1400 × 1000) that keeps the page's console log; quit after the module."
    assert CHROMIUM and CHROMEDRIVER, 'install Debian packages chromium and chromium-driver (runs/test.sh does)'
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in QUIET_HEADLESS: options.add_argument(flag)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(1400, 1000)
    yield driver
    driver.quit()
