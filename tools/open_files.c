/* open_files.c: room for many descriptors open at once, for `build --shards`. */
#include "cli.h"

#include <sys/resource.h>

int cli_raise_open_files(uint64_t need, uint64_t *hard)
{
	struct rlimit lim;
	if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
		return 0; /* unknown: the library's EMFILE detail says what ran out, if anything does */
	*hard = lim.rlim_max == RLIM_INFINITY ? UINT64_MAX : (uint64_t)lim.rlim_max;
	if (lim.rlim_cur == RLIM_INFINITY || (uint64_t)lim.rlim_cur >= need)
		return 0;
	if (need > *hard)
		return -1;
	/* The soft limit is the default that a program needing more may lift itself, up to the hard one; only as
	 * far as this build needs, so that what it starts inherits no more than that. */
	lim.rlim_cur = (rlim_t)need;
	return setrlimit(RLIMIT_NOFILE, &lim) == 0 ? 0 : -1;
}
