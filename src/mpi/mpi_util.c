/* mpi_util.c: the error detail of libembstore_mpi, MPI failures as statuses, agreement on a status, owners. */
#include <stdarg.h>
#include <stdio.h>

#include "mpi_impl.h"

static _Thread_local char detail[512];

const char *embstore_mpi_error_detail(void)
{
	return detail;
}

void em_detail_clear(void)
{
	detail[0] = 0;
}

void em_detail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
}

embstore_status em_mpi_failed(const char *what, int rc)
{
	char text[MPI_MAX_ERROR_STRING];
	int len = 0;
	if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
		len = 0;
	text[len < MPI_MAX_ERROR_STRING ? len : MPI_MAX_ERROR_STRING - 1] = 0;
	em_detail("%s failed: %s", what, len > 0 ? text : "unknown MPI error");
	return EMBSTORE_IO;
}

embstore_status em_agree_max(embstore_mpi *h, embstore_status local)
{
	int mine = (int)local, all = 0;
	EM_MPI(h, MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MAX, h->comm), "MPI_Allreduce");
	return (embstore_status)all;
}

const em_piece *em_owner(const em_table *t, uint64_t row)
{
	uint32_t lo = 0, hi = t->n_pieces;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (t->pieces[mid].first <= row)
			lo = mid;
		else
			hi = mid;
	}
	return &t->pieces[lo];
}

embstore_status embstore_mpi_get_stats(const embstore_mpi *h, embstore_mpi_stats *out)
{
	if (h == NULL || out == NULL)
		return EMBSTORE_INVALID_ARGUMENT;
	*out = h->stats;
	return EMBSTORE_OK;
}

void embstore_mpi_reset_stats(embstore_mpi *h)
{
	if (h != NULL)
		h->stats = (embstore_mpi_stats){0, 0, 0};
}
