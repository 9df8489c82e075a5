# Korund: the two commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
ROOTFS := image-build/rootfs.sh
IN_ROOT := $(ROOTFS) exec
BASE := /var/lib/korund/appliance
SIM := /var/lib/korund/simulator
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run stop test demo-call demo-ivr-call rootfs host-deps unit telephony web bench clean-rootfs \
	image vm vm-test

## run: build or reuse the root filesystem, start the appliance with the demo config
run: host-deps rootfs
	$(IN_ROOT) korund -i $(BASE) init --demo --demo-ivr --carrier 127.0.0.2:5060
	$(IN_ROOT) korund sim init --sim $(SIM) --address 127.0.0.2 --appliance 127.0.0.1:5060
	$(IN_ROOT) korund sim start --sim $(SIM)
	$(IN_ROOT) korund -i $(BASE) start
	@echo
	@echo "Korund is running."
	@echo "  Web panel:      http://127.0.0.1:8080/   (first visit: create the administrator with the setup code from"
	@echo "                  $(IN_ROOT) korund -i $(BASE) setup-code;"
	@echo "                  or: $(IN_ROOT) korund -i $(BASE) user add admin --role admin)"
	@echo "  API:            http://127.0.0.1:8080/api/v1/openapi.json"
	@echo "  Place a call:   make demo-call"
	@echo "  Call history:   $(IN_ROOT) korund -i $(BASE) calls"
	@echo "  Asterisk CLI:   $(IN_ROOT) asterisk -C $(BASE)/etc/asterisk/asterisk.conf -r"
	@echo "  Logs:           $${KORUND_VAR:-/var/lib/korund}/data/appliance/log/"
	@echo "  Stop it all:    make stop"

## demo-call: a call from the simulated carrier to the demo appliance
demo-call:
	$(IN_ROOT) korund demo-call --sim $(SIM) --hold 12
	@echo "waiting for the call to end..."; sleep 22
	$(IN_ROOT) korund -i $(BASE) calls --limit 5

## demo-ivr-call: a call to the demo IVR (number 200): 1 = balance, account 4242, then an operator
demo-ivr-call:
	$(IN_ROOT) korund demo-call --sim $(SIM) --dnis 200 --dtmf 1wwwwwwww4242# --hold 40
	@echo "waiting for the call to end..."; sleep 50
	$(IN_ROOT) korund -i $(BASE) calls --limit 5

## stop: stop the appliance and the simulator, unmount the root filesystem
stop:
	-$(IN_ROOT) korund -i $(BASE) stop
	-$(IN_ROOT) korund sim stop --sim $(SIM)
	$(ROOTFS) umount

## test: the whole suite, two shards side by side (tests/run.py; --serial for one after the other)
test: host-deps rootfs $(VENV)/.installed
	$(PY) tests/run.py

web: host-deps rootfs $(VENV)/.installed
	$(PY) -m pytest -v tests/web

unit: $(VENV)/.installed
	$(PY) -m pytest -v tests/unit

telephony: host-deps rootfs $(VENV)/.installed
	$(PY) -m pytest -v tests/telephony

rootfs:
	$(ROOTFS) mount >/dev/null

## image: the bootable appliance disk image: kernel, DAHDI modules, Korund (docs/IMAGE.md)
image: host-deps
	image-build/image.sh build

## vm: boot the image in qemu; the panel at https://127.0.0.1:8090/ (Ctrl-A X quits)
vm: host-deps
	python3 image-build/vm.py run

## vm-test: boot the image with korund.test=1 and run tests/guest inside (ONLY=pri,r2 picks checks)
vm-test: host-deps $(VENV)/.installed
	python3 image-build/vm.py test

host-deps:
	@command -v mmdebstrap >/dev/null && command -v zstd >/dev/null && python3 -m pip --version >/dev/null 2>&1 \
	  && python3 -c 'import ensurepip' 2>/dev/null && command -v chromium >/dev/null \
	  && command -v umockdev-wrapper >/dev/null && test -e /usr/lib/python3/dist-packages/gi \
	  && ls /usr/lib/*/girepository-1.0/UMockdev-1.0.typelib >/dev/null 2>&1 \
	  && command -v qemu-system-x86_64 >/dev/null && command -v qemu-img >/dev/null \
	  && command -v debugfs >/dev/null \
	  && command -v sipp >/dev/null && command -v nft >/dev/null \
	  || { apt-get update -q && apt-get install -y -q mmdebstrap zstd python3-pip python3-venv chromium \
	       umockdev gir1.2-umockdev-1.0 python3-gi qemu-system-x86 qemu-utils e2fsprogs sip-tester nftables; }

$(VENV)/.installed: requirements.lock requirements-test.lock pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.lock -r requirements-test.lock
	touch $@

bench: host-deps rootfs $(VENV)/.installed
	$(PY) bench/agi_step_latency.py
	$(PY) bench/ivr_concurrency.py
	$(PY) bench/capacity.py
	$(PY) bench/screen_pop.py
	$(PY) bench/routing_decision.py
	$(PY) bench/report_queries.py

clean-rootfs: stop
	rm -rf /var/lib/korund/rootfs-* /var/cache/korund/rootfs-*
