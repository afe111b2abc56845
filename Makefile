# mirrorguard - one binary, one Makefile.
#   make            build build/mirrorguard (DPDK built in when pkg-config finds libdpdk)
#   make DPDK=0     build without DPDK
#   make test       install what is missing, build, run every test (unit, ASan+UBSan, fuzz
#                   reproducers and saved corpora, integration)
#   make demo       install what is missing, build, replay the shipped demo captures
#   make fuzz       build the libFuzzer targets (clang) and run each for FUZZ_SECONDS
#   make bench      scripts/bench.sh: speed figures (never part of make test)

BUILD   ?= build
CC      ?= cc
PKGS    := libpcap yaml-0.1 hiredis libpsl
# DPDK is built in when pkg-config finds it and the DPDK source exists
# (capture/cap_dpdk.c arrives with the line-rate issue); DPDK=0 forces it off.
DPDK    ?= $(shell test -f capture/cap_dpdk.c && pkg-config --exists libdpdk 2>/dev/null && echo 1 || echo 0)

SRC     := $(wildcard sensor/*.c capture/*.c decoders/*.c detect/*.c config/*.c)
ifeq ($(DPDK),1)
# libdpdk's cflags (-include rte_config.h, -march=corei7, its include dirs,
# as -isystem so its headers' warnings are not ours) apply to
# capture/cap_dpdk.c only; every object sees -DHAVE_DPDK, the link gets libdpdk.
DPDK_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags libdpdk 2>/dev/null))
DPDK_LIBS   := $(shell pkg-config --libs libdpdk 2>/dev/null)
CPPFLAGS += -DHAVE_DPDK
else
SRC     := $(filter-out capture/cap_dpdk.c,$(SRC))
endif
LIBSRC  := $(filter-out sensor/main.c,$(SRC))

INCS    := -Isensor -Icapture -Idecoders -Idetect -Iconfig
OPT     ?= -O2
# Link-time optimisation: the packet path crosses capture/, decoders/ and
# sensor/ once per packet; measured 115 -> 112 ns/packet (scripts/bench.sh,
# medians of 9). Sanitizer builds go without it.
LTO     ?= -flto=auto
CFLAGS  += -std=gnu11 $(OPT) -g -Wall -Wextra -Wno-unused-parameter -MMD -MP \
           -fno-strict-aliasing $(INCS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(DPDK_LIBS) -lpthread -lm
ifdef SAN
LTO     :=
CFLAGS  += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SAN)
endif
CFLAGS  += $(LTO)
LDFLAGS += $(if $(LTO),$(OPT) $(LTO))

OBJ      := $(SRC:%.c=$(BUILD)/obj/%.o)
LIBOBJ   := $(LIBSRC:%.c=$(BUILD)/obj/%.o)
TESTSRC  := $(wildcard tests/test_*.c)
TESTOBJ  := $(TESTSRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all deps test unit unit-asan integration demo fuzz fuzz-regress bench clean

all: $(BUILD)/mirrorguard

$(BUILD)/mirrorguard: $(OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit-tests: $(LIBOBJ) $(TESTOBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcunit

$(BUILD)/obj/capture/cap_dpdk.o: CFLAGS += $(DPDK_CFLAGS)
# main.c compiles differently with and without DPDK: a stamp per setting
# rebuilds it (and relinks) when one build dir switches between the two.
DPDK_STAMP := $(BUILD)/obj/.dpdk$(DPDK)
$(DPDK_STAMP):
	@mkdir -p $(@D) && rm -f $(BUILD)/obj/.dpdk[01] && touch $@
$(BUILD)/obj/sensor/main.o: $(DPDK_STAMP)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

deps:
	@scripts/install-deps.sh

# The test command of the README: everything a fresh Debian 12 machine needs
# is installed first, then unit tests (plain and under ASan+UBSan), the fuzz
# targets over their reproducers and saved corpora (no fuzzing), then the
# integration tests that replay real captures and talk to a real redis-server.
test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) unit-asan
	$(MAKE) fuzz-regress
	$(MAKE) integration

unit: $(BUILD)/unit-tests $(BUILD)/mirrorguard
	cd tests && ../$(BUILD)/unit-tests

unit-asan:
	$(MAKE) BUILD=build-asan SAN=address,undefined OPT=-O1 build-asan/unit-tests build-asan/mirrorguard
	cd tests && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 ../build-asan/unit-tests

# build-tsan: the live sensor under ThreadSanitizer (tests/live_tsan.sh).
integration: $(BUILD)/mirrorguard $(BUILD)/unit-tests
	$(MAKE) BUILD=build-tsan SAN=thread OPT=-O1 build-tsan/mirrorguard
	MG=$(CURDIR)/$(BUILD)/mirrorguard MG_ASAN=$(CURDIR)/build-asan/mirrorguard \
	    MG_TSAN=$(CURDIR)/build-tsan/mirrorguard tests/run_integration.sh

demo: deps
	$(MAKE) all
	scripts/demo.sh

FUZZ_SECONDS ?= 60
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

fuzz-regress:
	FUZZ_SAVE=0 scripts/fuzz.sh 0

bench: all
	scripts/bench.sh

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(OBJ:.o=.d) $(TESTOBJ:.o=.d)
