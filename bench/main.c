// SPDX-License-Identifier: GPL-2.0-only
/*
 * hsema-bench: every benchmark of bench/README.md in one process, so that
 * all implementations are measured in the same boot, interleaved, under
 * the same conditions.  Writes JSON Lines: a "meta" record, the results,
 * and an "end" record that says the run completed.
 *
 * usage: hsema-bench [-s] [-o FILE] [-b BENCH,...] [-i IMPL,...]
 *                    [-t THREADS,...] [-c USEC,...] [-d SECONDS] [-r TURNS]
 *                    [-L SECONDS] [-P SECONDS] [-A SECONDS] [-K]
 *        hsema-bench -l    (list the implementations)
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/hsema.h>

#include "bench.h"
#include "clock.h"
#include "json.h"
#include "kcount.h"
#include "work.h"

void die(const char *what, int err)
{
	fprintf(stderr, "hsema-bench: %s: %s\n", what, strerror(err));
	exit(1);
}

void *xalloc(size_t size)
{
	void *p = aligned_alloc(64, (size + 63) & ~(size_t)63);

	if (!p)
		die("aligned_alloc", ENOMEM);
	memset(p, 0, size);
	return p;
}

pthread_t start_thread(void *(*fn)(void *), void *arg, int cpu, bool batch)
{
	struct sched_param sp = { 0 };
	pthread_attr_t attr;
	cpu_set_t set;
	pthread_t t;
	int ret;

	pthread_attr_init(&attr);
	if (cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	}
	if (batch) {
		pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
		pthread_attr_setschedpolicy(&attr, SCHED_BATCH);
		pthread_attr_setschedparam(&attr, &sp);
	}
	ret = pthread_create(&t, &attr, fn, arg);
	if (ret)
		die("pthread_create", ret);
	pthread_attr_destroy(&attr);
	return t;
}

void join_thread(pthread_t t)
{
	int ret = pthread_join(t, NULL);

	if (ret)
		die("pthread_join", ret);
}

int impl_order(const struct config *cfg, int r, int order[NR_IMPL])
{
	int enabled[NR_IMPL], i, n = 0;

	for (i = 0; i < NR_IMPL; i++)
		if (cfg->impl[i])
			enabled[n++] = i;
	for (i = 0; i < n; i++)
		order[i] = enabled[(i + r) % n];
	return n;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: hsema-bench [-s] [-o FILE] [-b BENCH,...] [-i IMPL,...]\n"
		"                   [-t THREADS,...] [-c USEC,...] [-d SECONDS] [-r TURNS]\n"
		"                   [-L SECONDS] [-P SECONDS] [-A SECONDS] [-K]\n"
		"       hsema-bench -l\n"
		"  -l  list the implementations and exit\n"
		"  -s  smoke: a tiny grid and short runs, for CI\n"
		"  -o  write the JSON Lines records to FILE (default stdout)\n"
		"  -b  benchmarks: uncontended,contended,lockskew,pingpong,any\n"
		"  -i  implementations (default all):");
	for (int i = 0; i < NR_IMPL; i++)
		fprintf(stderr, "%s%s", i ? "," : " ", sem_ops[i].name);
	fprintf(stderr, "\n"
		"  -t  thread counts of the contended grid (default 2,4,8,16)\n"
		"  -c  critical sections in us (default 0,1,10,100)\n"
		"  -d  seconds per implementation per contended cell (default 2)\n"
		"  -r  ... in this many turns, each its own throughput (default 3)\n"
		"  -L  seconds per implementation per lockskew placement (default 2)\n"
		"  -P  seconds per implementation per ping-pong placement (default 1)\n"
		"  -A  seconds per variant per placement of any, in -r turns\n"
		"      (default 1): sema_acquire_any and sema_acquire run with\n"
		"      -i libsema, futex_waitv with -i raw-futex\n"
		"  -K  do not count kernel entries (no tracefs trigger; on the host)\n");
	exit(2);
}

static double parse_secs(const char *arg)
{
	char *end;
	double v = strtod(arg, &end);

	if (*end || !(v > 0 && v <= 600))
		usage();
	return v;
}

static int parse_list(char *arg, int *out, int lo, int hi)
{
	char *tok, *end, *save = NULL;
	int n = 0;
	long v;

	for (tok = strtok_r(arg, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		v = strtol(tok, &end, 10);
		if (*end || v < lo || v > hi || n == MAX_LIST)
			usage();
		out[n++] = (int)v;
	}
	if (!n)
		usage();
	return n;
}

static void find_cpus(struct config *cfg)
{
	cpu_set_t set;
	int i;

	if (sched_getaffinity(0, sizeof(set), &set))
		die("sched_getaffinity", errno);
	for (i = 0; i < CPU_SETSIZE && cfg->nr_cpus < MAX_THREADS; i++)
		if (CPU_ISSET(i, &set))
			cfg->cpus[cfg->nr_cpus++] = i;
}

static void read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

/* "model name" of /proc/cpuinfo: under QEMU's TCG it names the emulator. */
static void cpu_model(char *buf, size_t size)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256], *colon;

	buf[0] = 0;
	while (f && fgets(line, sizeof(line), f)) {
		colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) || !colon)
			continue;
		snprintf(buf, size, "%s", colon + 2);
		buf[strcspn(buf, "\n")] = 0;
		break;
	}
	if (f)
		fclose(f);
}

static void meta(const struct config *cfg)
{
	char clocksource[64], model[128];
	struct utsname u;
	int i;

	uname(&u);
	read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		  clocksource, sizeof(clocksource));
	cpu_model(model, sizeof(model));
	json_begin();
	json_str("bench", "meta");
	json_str("mode", cfg->smoke ? "smoke" : "full");
	json_str("kernel", u.release);
	json_str("arch", u.machine);
	json_str("cpu_model", model);
	json_int("cpus", cfg->nr_cpus);
	json_str("clock", clock_source());
	json_str("kernel_clocksource", clocksource);
	json_num("ticks_per_ns", clock_ticks_per_ns());
	json_int("tsc_skew_ns", cfg->nr_cpus > 1 ?
		 clock_skew_ns(cfg->cpus[0], cfg->cpus[1]) : 0);
	json_num("work_iters_per_us", work_iters_per_us());
	/* How futex() and ioctl() calls are counted, or why they are not. */
	json_str("kcount", kcount_method());
	json_int("kcount_available", kcount_available());
	json_arr("impls");
	for (i = 0; i < NR_IMPL; i++) {
		if (!cfg->impl[i])
			continue;
		json_obj(NULL);
		json_str("name", sem_ops[i].name);
		json_str("desc", sem_ops[i].desc);
		/* Talks to /dev/hsema: its ioctls and the module's counters. */
		json_int("uses_hsema", sem_ops[i].libsema);
		json_close();
	}
	json_close();
	json_arr("threads");
	for (i = 0; i < cfg->nr_threads; i++)
		json_int(NULL, cfg->threads[i]);
	json_close();
	json_arr("cs_us");
	for (i = 0; i < cfg->nr_cs; i++)
		json_int(NULL, cfg->cs_us[i]);
	json_close();
	json_num("cell_secs", cfg->cell_secs);
	json_int("rounds", cfg->rounds);
	json_num("lockskew_secs", cfg->lockskew_secs);
	json_num("pingpong_secs", cfg->pingpong_secs);
	any_meta(cfg);
	json_end();
}

enum {
	B_UNCONTENDED = 1, B_CONTENDED = 2, B_LOCKSKEW = 4, B_PINGPONG = 8,
	B_ANY = 16,
};

static int parse_benches(char *arg)
{
	static const char *const names[] = {
		"uncontended", "contended", "lockskew", "pingpong", "any",
	};
	const int nr = (int)(sizeof(names) / sizeof(names[0]));
	char *tok, *save = NULL;
	int mask = 0, i;

	for (tok = strtok_r(arg, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < nr; i++)
			if (!strcmp(tok, names[i]))
				break;
		if (i == nr)
			usage();
		mask |= 1 << i;
	}
	return mask;
}

static void parse_impls(struct config *cfg, char *arg)
{
	char *tok, *save = NULL;
	int i;

	memset(cfg->impl, 0, sizeof(cfg->impl));
	for (tok = strtok_r(arg, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		i = impl_by_name(tok);
		if (i < 0)
			usage();
		cfg->impl[i] = true;
	}
}

/* Run one benchmark, saying on stderr how long it took. */
static void timed(const char *name, void (*fn)(const struct config *),
		  const struct config *cfg)
{
	uint64_t t = mono_ns();

	fprintf(stderr, "hsema-bench: %s...", name);
	fn(cfg);
	fprintf(stderr, " %.1f s\n", (double)(mono_ns() - t) / 1e9);
}

int main(int argc, char **argv)
{
	struct config cfg = {
		.threads = { 2, 4, 8, 16 }, .nr_threads = 4,
		.cs_us = { 0, 1, 10, 100 }, .nr_cs = 4,
		/*
		 * 2 s in three turns: the turns are what the ratios are
		 * taken over, and three runs of the grid must fit in the
		 * time one run of 3 s per cell took.
		 */
		.cell_secs = 2, .rounds = 3,
		.lockskew_secs = 2, .pingpong_secs = 1, .any_secs = 1,
		.pairs = 200000, .reps = 15,
	};
	double lockskew_secs = 0, pingpong_secs = 0, any_secs = 0;
	char *outfile = NULL;
	int opt, i, benches = B_UNCONTENDED | B_CONTENDED | B_LOCKSKEW |
			      B_PINGPONG | B_ANY;
	bool set_t = false, set_c = false, set_d = false, count = true;
	uint64_t t0;
	FILE *out = stdout;

	char **args = calloc(argc + 1, sizeof(*args));

	/*
	 * getopt() permutes argv and the list parsers cut its strings at
	 * the commas (strtok_r): a copy of both, to run the program again
	 * (sems_preload()) with the options it was given.
	 */
	if (!args)
		die("calloc", ENOMEM);
	for (i = 0; i < argc; i++) {
		args[i] = strdup(argv[i]);
		if (!args[i])
			die("strdup", ENOMEM);
	}
	for (i = 0; i < NR_IMPL; i++)
		cfg.impl[i] = true;
	while ((opt = getopt(argc, argv, "so:b:i:t:c:d:r:L:P:A:Klh")) != -1) {
		switch (opt) {
		case 'l':
			for (i = 0; i < NR_IMPL; i++)
				printf("%s\n", sem_ops[i].name);
			return 0;
		case 's':
			cfg.smoke = true;
			break;
		case 'o':
			outfile = optarg;
			break;
		case 'b':
			benches = parse_benches(optarg);
			break;
		case 'i':
			parse_impls(&cfg, optarg);
			break;
		case 't':
			cfg.nr_threads = parse_list(optarg, cfg.threads, 1,
						    MAX_THREADS);
			set_t = true;
			break;
		case 'c':
			cfg.nr_cs = parse_list(optarg, cfg.cs_us, 0, 100000);
			set_c = true;
			break;
		case 'd':
			cfg.cell_secs = parse_secs(optarg);
			set_d = true;
			break;
		case 'r':
			parse_list(optarg, &cfg.rounds, 1, MAX_ROUNDS);
			break;
		case 'K':
			count = false;
			break;
		case 'L':
			lockskew_secs = parse_secs(optarg);
			break;
		case 'P':
			pingpong_secs = parse_secs(optarg);
			break;
		case 'A':
			any_secs = parse_secs(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (cfg.smoke) {
		/* Enough to run every code path and fill every output. */
		if (!set_t) {
			cfg.threads[0] = 2;
			cfg.threads[1] = 4;
			cfg.nr_threads = 2;
		}
		if (!set_c) {
			cfg.cs_us[0] = 0;
			cfg.cs_us[1] = 10;
			cfg.nr_cs = 2;
		}
		/* Three turns even here: the report takes ratios over turns. */
		if (!set_d)
			cfg.cell_secs = 0.15;
		cfg.lockskew_secs = 0.2;
		cfg.pingpong_secs = 0.1;
		cfg.any_secs = 0.1;
		cfg.pairs = 20000;
		cfg.reps = 3;
	}
	if (lockskew_secs)
		cfg.lockskew_secs = lockskew_secs;
	if (pingpong_secs)
		cfg.pingpong_secs = pingpong_secs;
	if (any_secs)
		cfg.any_secs = any_secs;
	for (i = 0; i < NR_IMPL; i++) {
		if (cfg.impl[i] && sem_ops[i].libsema && !sems_have_hsema()) {
			fprintf(stderr, "hsema-bench: no %s: load the module, "
				"or leave %s out with -i\n", HSEMA_DEVICE,
				sem_ops[i].name);
			return 1;
		}
	}
	if (cfg.impl[IMPL_POSIX])
		sems_preload(args);
	for (i = 0; i < argc; i++)
		free(args[i]);
	free(args);
	sems_setup(cfg.impl);
	if (outfile) {
		out = fopen(outfile, "w");
		if (!out)
			die(outfile, errno);
	}
	json_open(out);
	find_cpus(&cfg);

	clock_calibrate();
	work_calibrate();
	if (count)
		kcount_setup();
	meta(&cfg);
	t0 = mono_ns();
	if (benches & B_UNCONTENDED)
		timed("uncontended", bench_uncontended, &cfg);
	if (benches & B_PINGPONG)
		timed("pingpong", bench_pingpong, &cfg);
	if (benches & B_ANY)
		timed("any", bench_any, &cfg);
	if (benches & B_LOCKSKEW)
		timed("lockskew", bench_lockskew, &cfg);
	if (benches & B_CONTENDED)
		timed("contended", bench_contended, &cfg);
	json_begin();
	json_str("bench", "end");
	json_num("secs", (double)(mono_ns() - t0) / 1e9);
	json_end();
	if (out != stdout && fclose(out))
		die(outfile, errno);
	return 0;
}
