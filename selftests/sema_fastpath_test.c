// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fast path makes no system call: after sema_init() (which opens
 * /dev/hsema), a seccomp filter traps every ioctl() (variant "ioctl") or
 * every system call but exit and rt_sigreturn and the clock reads a vDSO
 * may fall back to (variant "strict") into a counting SIGSYS handler.
 * Acquires with a unit available (acquire, tryacquire, timedacquire with
 * a future or a passed deadline), a tryacquire that finds no unit,
 * releases and release_n with no waiter and getvalue must not trap, on
 * private and on SEMA_SHARED semaphores.  A direct ioctl() at the end
 * proves the filter works.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>

#include "kselftest_harness.h"
#include "hsema_util.h"

#if defined(__x86_64__)
#define HSEMA_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__i386__)
#define HSEMA_AUDIT_ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__)
#define HSEMA_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

enum step {
	S_TRYACQUIRE, S_ACQUIRE, S_TRY_EMPTY, S_RELEASE1, S_RELEASE2,
	S_TIMED_FUTURE, S_TIMED_PAST, S_RELEASE_N, S_GETVALUE, S_ACQUIRE3,
	S_FILTER_CHECK, S_NR
};

static const char *const step_names[S_NR] = {
	"tryacquire (value 2)", "acquire (value 1)",
	"tryacquire (value 0, no waiter)", "release (no waiter)",
	"release (no waiter)", "timedacquire MONOTONIC, future deadline",
	"timedacquire REALTIME, passed deadline", "release_n(3) (no waiter)",
	"getvalue", "3 acquires", "ioctl(VERSION) self-check",
};

struct fp_result {
	int reached;		/* steps done */
	int ret[S_NR];		/* what each step returned */
	int traps[S_NR];	/* traps seen by the end of each step */
	int first_nr;		/* first trapped system call, or -1 */
	int first_step;		/* the step it happened in */
};

static volatile int traps;
static volatile int first_nr = -1;
static volatile int cur_step;
static volatile int first_step = -1;

static void sigsys_handler(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;

	(void)sig;
	(void)uc;
	if (first_nr < 0) {
		first_nr = si->si_syscall;
		first_step = cur_step;
	}
	traps++;
#if defined(__x86_64__)
	/* The call was skipped: make it fail instead of returning its nr. */
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#endif
}

static int install_filter(bool strict)
{
#ifdef HSEMA_AUDIT_ARCH
	struct sock_filter ioctl_only[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, HSEMA_AUDIT_ARCH, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_filter all[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, HSEMA_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_rt_sigreturn, 5, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit_group, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clock_gettime, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_gettimeofday, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = strict ? sizeof(all) / sizeof(all[0]) :
				sizeof(ioctl_only) / sizeof(ioctl_only[0]),
		.filter = strict ? all : ioctl_only,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) ? -errno : 0;
#else
	(void)strict;
	return -EOPNOTSUPP;
#endif
}

#define STEP(n, expr) do {				\
	cur_step = (n);					\
	res->ret[n] = (expr);				\
	res->traps[n] = traps;				\
	res->reached = (n) + 1;				\
} while (0)

/* The child: everything after install_filter() is under the filter. */
static int fastpath_child(struct fp_result *res, sema_t *s, unsigned int flags,
			  bool strict)
{
	struct timespec future, past;
	struct hsema_version ver;
	struct sigaction sa;
	unsigned int v = 0;
	int hfd, r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigsys_handler;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSYS, &sa, NULL))
		return 2;
	if (sema_init(s, 2, flags))
		return 3;
	hfd = hsema_open();
	if (hfd < 0)
		return 4;
	future = deadline_in(CLOCK_MONOTONIC, 10000000000LL);
	past = deadline_in(CLOCK_REALTIME, -1000000000LL);
	if (install_filter(strict))
		return 5;

	STEP(S_TRYACQUIRE, sema_tryacquire(s));
	STEP(S_ACQUIRE, sema_acquire(s));
	STEP(S_TRY_EMPTY, sema_tryacquire(s));
	STEP(S_RELEASE1, sema_release(s));
	STEP(S_RELEASE2, sema_release(s));
	STEP(S_TIMED_FUTURE, sema_timedacquire(s, &future, CLOCK_MONOTONIC));
	STEP(S_TIMED_PAST, sema_timedacquire(s, &past, CLOCK_REALTIME));
	STEP(S_RELEASE_N, sema_release_n(s, 3));
	STEP(S_GETVALUE, sema_getvalue(s, &v) ?: (int)v);
	r = sema_acquire(s);
	r = r ?: sema_acquire(s);
	STEP(S_ACQUIRE3, r ?: sema_acquire(s));
	STEP(S_FILTER_CHECK, ioctl(hfd, HSEMA_IOC_VERSION, &ver));
	res->first_nr = first_nr;
	res->first_step = first_step;
	return 0;
}

FIXTURE(fastpath) {
	struct fp_result *res;
	sema_t *s;
};

FIXTURE_VARIANT(fastpath) {
	bool shared;
	bool strict;
};

FIXTURE_VARIANT_ADD(fastpath, private_ioctl) { .shared = false, .strict = false };
FIXTURE_VARIANT_ADD(fastpath, shared_ioctl) { .shared = true, .strict = false };
FIXTURE_VARIANT_ADD(fastpath, private_strict) { .shared = false, .strict = true };
FIXTURE_VARIANT_ADD(fastpath, shared_strict) { .shared = true, .strict = true };

FIXTURE_SETUP(fastpath)
{
	int fd = hsema_open();

	if (fd < 0 && errno == ENOENT)
		SKIP(return, HSEMA_DEVICE " missing: is hsema.ko loaded?");
	ASSERT_LE(0, fd);
	close(fd);
#ifndef HSEMA_AUDIT_ARCH
	SKIP(return, "no seccomp architecture for this build");
#endif
	self->res = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->res);
	self->s = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       (variant->shared ? MAP_SHARED : MAP_PRIVATE) |
		       MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->s);
}

FIXTURE_TEARDOWN(fastpath)
{
}

TEST_F(fastpath, no_syscall_uncontended)
{
	struct fp_result *res = self->res;
	int status, i;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	res->first_nr = -1;
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(fastpath_child(res, self->s,
				     variant->shared ? SEMA_SHARED : 0,
				     variant->strict));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("child died: status %#x", status);
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("child setup step failed");
	ASSERT_EQ(S_NR, res->reached);

	if (res->first_nr >= 0 && res->first_step != S_FILTER_CHECK) {
		for (i = 0; i < S_FILTER_CHECK; i++)
			TH_LOG("%-42s -> %d, traps so far %d", step_names[i],
			       res->ret[i], res->traps[i]);
		TH_LOG("first trapped system call: nr %d in \"%s\"",
		       res->first_nr, step_names[res->first_step]);
	}

	EXPECT_EQ(0, res->ret[S_TRYACQUIRE]);
	EXPECT_EQ(0, res->ret[S_ACQUIRE]);
	EXPECT_EQ(-EAGAIN, res->ret[S_TRY_EMPTY]);
	EXPECT_EQ(0, res->ret[S_RELEASE1]);
	EXPECT_EQ(0, res->ret[S_RELEASE2]);
	EXPECT_EQ(0, res->ret[S_TIMED_FUTURE]);
	EXPECT_EQ(0, res->ret[S_TIMED_PAST]);
	EXPECT_EQ(0, res->ret[S_RELEASE_N]);
	EXPECT_EQ(3, res->ret[S_GETVALUE]);
	EXPECT_EQ(0, res->ret[S_ACQUIRE3]);
	for (i = 0; i < S_FILTER_CHECK; i++)
		EXPECT_EQ(0, res->traps[i])
			TH_LOG("\"%s\" made a system call", step_names[i]);
	/* The filter works: the direct ioctl() trapped exactly once. */
	EXPECT_EQ(res->traps[S_FILTER_CHECK - 1] + 1, res->traps[S_FILTER_CHECK]);
	EXPECT_EQ(0, hsema_word(self->s));
}

TEST_HARNESS_MAIN
