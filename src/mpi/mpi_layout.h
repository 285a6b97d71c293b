/* mpi_layout.h: the set checked and laid out from every rank's description (mpi_layout.c). */
#ifndef EMBSTORE_MPI_LAYOUT_H
#define EMBSTORE_MPI_LAYOUT_H

#include "mpi_describe.h"

/* Fills h->info.set and h's tables from d[0 .. h->size), or fails as embstore_set_open would (BAD_SET with the
 * detail), or with the status and detail of the lowest rank whose files did not open. The same on every rank. */
embstore_status em_layout(embstore_mpi *h, const em_desc *d);

#endif
