/* export.h: the exporters beside export.c. */
#ifndef EMBSTORE_EXPORT_H
#define EMBSTORE_EXPORT_H

#include "util.h"

/* embstore_export to SAFETENSORS, its arguments checked: table `index`, or every table (EMBSTORE_ALL_TABLES). */
embstore_status es_export_safetensors(const embstore *s, uint32_t index, const char *path);

#endif
