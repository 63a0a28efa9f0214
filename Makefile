# The README's two commands call these targets. Everything lives in .venv.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PKGS := hydrogen-data chromium chromium-driver

.PHONY: setup system-deps quick test perf clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -e '.[test]'
	# aisfx pins ancient numpy/librosa: install the wheel (it carries the pretrained CNN) alone.
	# essentia + six let the tests run aisfx's own extraction code as a parity reference.
	$(BIN)/pip install --no-deps aisfx==0.1.2 essentia==2.1b6.dev1389 six
	touch $@

# Real drum kits (Hydrogen) and a headless browser for the report tests.
system-deps:
	@if [ -f /usr/share/hydrogen/data/drumkits/GMRockKit/drumkit.xml ] && command -v chromium >/dev/null \
	   && command -v chromedriver >/dev/null; then echo "system packages present"; \
	 else $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PKGS); fi

# The main job: every baseline in the quick protocol on synthkit, then the HTML leaderboard.
quick: setup
	$(BIN)/drumbench suite protocol=quick dataset=synthkit

test: setup system-deps
	$(BIN)/python -m pytest

perf: setup
	$(BIN)/drumbench perf -o reports/perf.json

clean:
	rm -rf $(VENV) runs data outputs multirun
