/* fault_driver.h: the loop of the fault tests (test_faults.c, test_fault_paths.c). A case is an operation that
 * writes a target (or only reads a store); the driver runs it with every call of each wrapped kind failing in turn
 * (ENOSPC, then EIO; an allocation with ENOMEM), and, for the calls that move bytes, coming short and interrupted
 * (EINTR), until a run reaches no armed call. Each run must end with IO, the injected errno and a detail (that
 * names the file, where the case can tell) or NO_MEMORY for an allocation, or, short or interrupted, succeed; close
 * every descriptor it opened; and, when it writes, leave the target holding the previous file or the whole new one
 * (the new one after a failure only when the directory's open or fsync, after the rename, failed) and nothing else
 * in its directory. EMBSTORE_FAULT=KIND:N:ERR (as the failure messages print it) runs only that case. */
#ifndef EMBSTORE_FAULT_DRIVER_H
#define EMBSTORE_FAULT_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "embstore.h"
#include "fault_shim.h"

#define FAULT_BIT(kind) (1u << (kind))
/* The kinds of call every commit of a target makes (an export's); a store's writer also makes pwrite calls. */
#define FAULT_COMMIT_KINDS                                                                             \
	(FAULT_BIT(FAULT_ALLOC) | FAULT_BIT(FAULT_OPEN) | FAULT_BIT(FAULT_WRITE) | FAULT_BIT(FAULT_FSYNC) |    \
	 FAULT_BIT(FAULT_RENAME))
#define FAULT_WRITER_KINDS (FAULT_COMMIT_KINDS | FAULT_BIT(FAULT_PWRITE))

typedef struct fault_outcome {
	embstore_status st;
	int err; /* errno right after the failing call */
	char detail[320];
} fault_outcome;

#define FAULT_OUTCOME_OK ((fault_outcome){EMBSTORE_OK, 0, ""})

/* Records the first failure of a run in o: status, errno and detail as the failing call left them. Returns
 * whether st is OK, so that a run's steps chain with &&. */
bool fault_ok(fault_outcome *o, embstore_status st);

/* A test's case: this as the first member of its own struct, which run casts back to. */
typedef struct fault_case fault_case;
struct fault_case {
	const char *name; /* in every message, and in the line of counts run_all prints */
	fault_outcome (*run)(const fault_case *fc);
	const char *out; /* the target, alone in its directory; or, when !writes, the store read */
	bool writes;
	/* Whether the detail of an IO failure of `kind` names the file that failed; NULL: any detail but "" will do. */
	bool (*names_file)(const fault_case *fc, fault_kind kind, const char *detail);
	unsigned expected_kinds; /* FAULT_BITs: a run makes at least one call of each */
	uint8_t *old, *new_;     /* writes: the target before, and after any run that succeeds (fault_record_new) */
	size_t old_len, new_len;
	/* A case that writes a group of files that must appear together (a set's shards): n_outs > 0 targets, outs[0]
	 * is `out` and all share its directory. olds[i] (old_lens[i] bytes) is written to outs[i] before each run; a
	 * run must then leave every target with its old bytes, or the whole new group, which holds_new judges (the
	 * new files' bytes may differ from run to run). old / new_ are unused. */
	const char *const *outs;
	size_t n_outs;
	uint8_t *const *olds;
	const size_t *old_lens;
	bool (*holds_new)(const fault_case *fc);
};

/* Writes `old` to the target, runs the case once without a fault and keeps what it leaves as `new_`, which must
 * differ from `old`. A group case: runs it once without a fault and checks that holds_new says so. */
void fault_record_new(fault_case *fc);

/* Every fault of every kind, or the one EMBSTORE_FAULT names; prints the calls of each kind the case makes. */
void fault_run_all(const fault_case *fc);

/* Fails the test when LeakSanitizer finds memory leaked. Criterion does not look at the exit status of a worker
 * whose test passed, which is where LeakSanitizer reports at exit, so each test asks for the check itself. */
void fault_check_leaks(void);

#endif
