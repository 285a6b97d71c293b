/* errors.c: status strings, generated from the one list in embstore.h. */
#include "embstore.h"

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
