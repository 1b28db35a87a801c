# Sourced by .ci/run: Debian's Chromium for the web page's browser tests (tests/web/test_browser.py
# drives it with Playwright through executable_path; Playwright's own browser download is not
# used). Installed when missing; nothing is done when it is already there. Without root (or sudo)
# the browser tests skip with the reason, and everything else still runs.
chromium_bin=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium_bin" ]; then
  as_root=""
  if [ "$(id -u)" -ne 0 ]; then
    as_root=$(command -v sudo || true)
  fi
  if [ "$(id -u)" -eq 0 ] || [ -n "$as_root" ]; then
    echo "+ installing Chromium (Debian package)"
    $as_root apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq chromium >/dev/null
    chromium_bin=$(command -v chromium || true)
  else
    echo "+ no Chromium and no root to install it: the browser tests will be skipped" >&2
  fi
fi
if [ -n "$chromium_bin" ]; then
  export CONNECTOR_TEST_CHROMIUM="$chromium_bin"
  echo "+ Chromium for the browser tests: $chromium_bin"
fi
# The browser tests write their screenshots here (see tests/web/test_browser.py).
export PYTEST_OUTPUT="${PYTEST_OUTPUT:-$PWD/test-output}"
mkdir -p "$PYTEST_OUTPUT"
