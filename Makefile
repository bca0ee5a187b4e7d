# Hyperion: the two commands of the README, and a few helpers.
# Every target runs the idempotent bootstrap first, so each works on a fresh machine; the
# commands run in the environment of `. .venv/bin/activate` (the colcon workspace in
# install/ over its underlay).

SHELL   := /bin/bash
VENV    := $(or $(HYPERION_VENV),.venv)
ENV     := . $(VENV)/bin/activate &&
# Tests keep DDS discovery on loopback (see test/conftest.py for the domain id).
TEST_ENV := ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST

.PHONY: bootstrap demo test lint bench

bootstrap:
	scripts/bootstrap.sh

demo: bootstrap
	$(ENV) hyperion demo

test:
	scripts/bootstrap.sh --test
	$(ENV) $(TEST_ENV) python -m pytest

lint:
	scripts/bootstrap.sh --test
	$(VENV)/bin/ruff check src test launch scripts benchmarks

bench: bootstrap
	$(ENV) hyperion bench --json reports/bench.json
