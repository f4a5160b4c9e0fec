// SPDX-License-Identifier: GPL-2.0-only
/*
 * hsema_trace_check [-p] [FILE|-]: replay a saved hsema trace and check
 * it (see hsema_trace.h).  Take the trace with the "counter" or "global"
 * trace clock and a buffer large enough to lose nothing:
 *
 *   cd /sys/kernel/tracing
 *   echo counter > trace_clock; echo 32768 > buffer_size_kb
 *   echo > trace; echo 1 > events/hsema/enable
 *   ... run the workload ...
 *   echo 0 > events/hsema/enable; hsema_trace_check trace
 *
 * Prints the first violation, the replayed queue of its key and that
 * key's last events, and exits 1; or a summary of the events and exits 0.
 * -p accepts waiters still queued at the end (tracing stopped mid-run).
 * Exit 2: usage or read error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hsema_trace.h"

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-p] [FILE|-]\n"
		"  replays an hsema trace (tracefs \"trace\" text), reports the first\n"
		"  violation (exit 1) or a summary (exit 0); -p: waiters may still\n"
		"  be queued at the end\n", prog);
}

int main(int argc, char **argv)
{
	const char *name = "-";
	struct ht_replay *r;
	bool partial = false;
	FILE *f = stdin;
	int opt, ret;

	while ((opt = getopt(argc, argv, "ph")) != -1) {
		switch (opt) {
		case 'p':
			partial = true;
			break;
		case 'h':
			usage(argv[0]);
			return 0;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	if (optind + 1 < argc) {
		usage(argv[0]);
		return 2;
	}
	if (optind < argc)
		name = argv[optind];
	if (strcmp(name, "-")) {
		f = fopen(name, "r");
		if (!f) {
			fprintf(stderr, "%s: %s: %s\n", argv[0], name,
				strerror(errno));
			return 2;
		}
	}
	r = ht_replay_new();
	if (!r) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		return 2;
	}
	ht_replay_set_partial(r, partial);
	ret = ht_replay_file(r, f);
	if (ret == -2) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], name, strerror(errno));
		return 2;
	}
	if (f != stdin)
		fclose(f);
	ht_replay_finish(r);
	if (ht_replay_violation(r)) {
		printf("%s: violation\n", name);
		ht_print_violation(r, stdout);
		ret = 1;
	} else {
		if (!ht_replay_events(r))
			fprintf(stderr, "%s: warning: no hsema event in %s\n",
				argv[0], name);
		ht_print_summary(r, stdout);
		ret = 0;
	}
	ht_replay_free(r);
	return ret;
}
