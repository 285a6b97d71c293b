/* store_impl.h: the opened store, shared by store.c (open, accessors), verify.c and train.c. */
#ifndef EMBSTORE_STORE_IMPL_H
#define EMBSTORE_STORE_IMPL_H

#include "format.h"

struct embstore {
	uint8_t *base;      /* the mapping (or the caller's buffer); written only when writable */
	uint64_t len;
	int fd;             /* the file, for verify's reads; -1 for stores over caller memory */
	bool mapped;        /* base came from mmap and must be unmapped */
	bool writable;
	es_layout layout;
	uint8_t *dirty;     /* writable: one byte per checksum chunk, set by scatter-add, cleared by sync */
};

/* embstore_open without the argument checks, parsing in `mode` (ES_PARSE_STRICT, or ES_PARSE_RESEAL for
 * embstore_reseal). */
embstore_status es_open(const char *path, unsigned flags, int mode, embstore **out);

#endif
