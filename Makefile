# SPDX-License-Identifier: GPL-2.0-only
#
# hsema: the module (kmod/), libsema (libsema/) and the kselftests
# (selftests/).
#
#   make                 build the module against KDIR, libsema and the tests
#   make demo            the demo: lockskew in a guest of the default kernel
#   make check           the kselftests on every kernel of the matrix, in QEMU
#   make check-debug     the same on the debug kernel (built and cached)
#   make bench           the benchmarks, in one guest
#   make vm KERNEL=6.12 CMD='...'   run a command in a guest
#   make install         install libsema, hsemastat, the headers and man pages
#   make deps            install the build and test dependencies (root)
#
# KDIR defaults to the running kernel's build directory, else to the
# headers of the default test kernel (6.1).

KERNEL ?= 6.1
KDIR ?= $(shell d=/lib/modules/$$(uname -r)/build; \
	  if [ -d $$d ]; then echo $$d; else scripts/kernels kdir $(KERNEL); fi)
BUILD := $(CURDIR)/build
KSFT_DIR = $(shell scripts/ksft)

all: module libsema selftests

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

libsema:
	$(MAKE) -C libsema

selftests: libsema
	@mkdir -p $(BUILD)/selftests
	$(MAKE) -C selftests KSFT_DIR=$(KSFT_DIR) OUTPUT=$(BUILD)/selftests

examples: libsema
	$(MAKE) -C examples

check:
	scripts/check

check-debug:
	HSEMA_DEBUG_KERNEL=1 scripts/check debug

demo:
	scripts/demo

bench:
	scripts/bench

vm:
	scripts/vm-run --kernel $(KERNEL) -- $(CMD)

deps:
	scripts/deps

install:
	$(MAKE) -C libsema install

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C libsema clean
	-$(MAKE) -C examples clean
	rm -rf $(BUILD)

.PHONY: all module libsema selftests examples check check-debug demo bench vm \
	deps install clean
