# Hyperion: the two commands of the README, and a few helpers.
# Every target runs the idempotent bootstrap first, so each works on a fresh machine.

VENV    := .venv
PY      := $(VENV)/bin/python
# Tests keep DDS discovery on loopback (see test/conftest.py for the domain id).
TEST_ENV := ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST

.PHONY: bootstrap demo test lint bench

bootstrap:
	scripts/bootstrap.sh

demo: bootstrap
	$(VENV)/bin/hyperion demo

test:
	scripts/bootstrap.sh --test
	$(TEST_ENV) $(PY) -m pytest

lint:
	scripts/bootstrap.sh --test
	$(VENV)/bin/ruff check src test launch scripts

bench: bootstrap
	$(VENV)/bin/hyperion bench --json reports/bench.json
