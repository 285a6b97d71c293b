/* errors.c: status strings, generated from the one list in embstore.h, and the per-thread detail of the last
 * failure. */
#include <stdarg.h>
#include <stdio.h>

#include "util.h"

/* Thread-local, so that threads opening different files never see each other's detail; fixed size, so that
 * recording a failure can never fail itself. */
static _Thread_local char detail[320];

const char *embstore_strerror(embstore_status status)
{
	switch (status) {
#define X(name, value, msg)                                                                            \
	case EMBSTORE_##name:                                                                              \
		return msg;
		EMBSTORE_STATUS_LIST(X)
#undef X
	}
	return "unknown status";
}

const char *embstore_status_name(embstore_status status)
{
	switch (status) {
#define X(name, value, msg)                                                                            \
	case EMBSTORE_##name:                                                                              \
		return #name;
		EMBSTORE_STATUS_LIST(X)
#undef X
	}
	return "UNKNOWN";
}

const char *embstore_version(void)
{
	return EMBSTORE_VERSION_STRING;
}

const char *embstore_error_detail(void)
{
	return detail;
}

void es_detail_clear(void)
{
	detail[0] = 0;
}

void es_detail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
}
