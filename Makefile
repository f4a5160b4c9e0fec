# SPDX-License-Identifier: GPL-2.0-only
#
# hsema: the module (kmod/), libsema (libsema/), hsemastat (tools/) and
# the kselftests (selftests/).
#
#   make                 build the module against KDIR, libsema, the tools
#                        and the tests
#   make demo            the demo: lockskew in a guest of the default kernel
#   make check           the kselftests on every kernel of the matrix, in QEMU
#   make check-debug     the same on the debug kernel (built and cached)
#   make bench           the benchmarks, in one guest, results in build/bench
#   make bench-update    the same, into the committed bench/results
#   make lint            checkpatch --strict, sparse and W=1 on the kernel
#                        code, against every kernel of the matrix
#   make vm KERNEL=6.12 CMD='...'   run a command in a guest
#   make install         install libsema, hsemastat, the headers and man
#                        pages (PREFIX, DESTDIR), and hsema.ko for the
#                        running kernel (KVER) under
#                        /lib/modules/KVER/updates/, then depmod; with
#                        AUTOLOAD=1 also /etc/modules-load.d/hsema.conf
#   make install-lib     only the userspace part; install-module only the
#                        module
#   make uninstall       remove everything install put there
#   make deb             the Debian packages (dpkg-buildpackage), in build/deb
#   make deps            install the build and test dependencies (root):
#                        scripts/deps base pkg bench tests, what make
#                        check needs
#
# KDIR defaults to the running kernel's build directory, else to the
# headers of the default test kernel (6.1).  install-module builds against
# the running kernel's own (KVER_BUILD, /lib/modules/KVER/build) whatever
# KDIR says.

KERNEL ?= 6.1
KDIR ?= $(shell d=/lib/modules/$$(uname -r)/build; \
	  if [ -d $$d ]; then echo $$d; else scripts/kernels kdir $(KERNEL); fi)
BUILD := $(CURDIR)/build
KSFT_DIR = $(shell scripts/ksft)

KVER ?= $(shell uname -r)
KVER_BUILD ?= /lib/modules/$(KVER)/build
MODDIR = $(DESTDIR)/lib/modules/$(KVER)
AUTOLOAD ?= 0

all: module libsema tools selftests

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

libsema:
	$(MAKE) -C libsema

tools:
	$(MAKE) -C tools

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

bench-update:
	scripts/bench --save

lint:
	scripts/lint

vm:
	scripts/vm-run --kernel $(KERNEL) -- $(CMD)

deps:
	scripts/deps base pkg bench tests

install: install-lib install-module

install-lib:
	$(MAKE) -C libsema install
	$(MAKE) -C tools install

# Only kmod/ (not the test module in selftests/kmod/), through the kernel's
# own modules_install, which compresses it as that kernel's modules are;
# unsigned, as with insmod (a distribution kernel's signing key is not
# there: DKMS signs with its own key).  With DESTDIR, depmod is left to
# whoever installs the tree.
install-module:
	@test -f $(KVER_BUILD)/Makefile || { \
	  echo "no headers for kernel $(KVER) in $(KVER_BUILD):" \
	       "install them (e.g. linux-headers-$(KVER)) or run make install-lib" >&2; \
	  exit 1; }
	$(MAKE) -C $(KVER_BUILD) M=$(CURDIR)/kmod modules
	$(MAKE) -C $(KVER_BUILD) M=$(CURDIR)/kmod \
		INSTALL_MOD_PATH=$(DESTDIR) INSTALL_MOD_DIR=updates \
		CONFIG_MODULE_SIG_ALL= modules_install
	if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi
	if [ "$(AUTOLOAD)" = 1 ]; then \
	  install -d $(DESTDIR)/etc/modules-load.d && \
	  echo hsema >$(DESTDIR)/etc/modules-load.d/hsema.conf; fi

uninstall:
	$(MAKE) -C libsema uninstall
	$(MAKE) -C tools uninstall
	rm -f $(MODDIR)/updates/hsema.ko $(MODDIR)/updates/hsema.ko.*
	-rmdir $(MODDIR)/updates 2>/dev/null
	rm -f $(DESTDIR)/etc/modules-load.d/hsema.conf
	if [ -z "$(DESTDIR)" ] && [ -d $(MODDIR) ]; then depmod -a $(KVER); fi

deb:
	scripts/deb

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod clean
	$(MAKE) -C libsema clean
	$(MAKE) -C tools clean
	-$(MAKE) -C examples clean
	rm -rf $(BUILD)

.PHONY: all module libsema tools selftests examples check check-debug demo \
	bench bench-update lint vm deps install install-lib install-module uninstall deb clean
