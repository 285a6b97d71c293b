/* writer.h: what the importers (import.c) use of the writer beyond the public calls. */
#ifndef EMBSTORE_WRITER_H
#define EMBSTORE_WRITER_H

#include "convert.h"

/* embstore_writer_append, also from the source types only importers have (ES_SRC_F64). */
embstore_status es_writer_append(embstore_writer *w, const void *src, embstore_dtype src_type, uint64_t n,
                                 uint64_t src_stride);

#endif
