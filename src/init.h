/* init.h: what init.c shares with its tests. */
#ifndef EMBSTORE_INIT_H
#define EMBSTORE_INIT_H

/* The natural logarithm of a finite x > 0, the same bits on every machine and compiler (libm's log is not). */
double es_init_log(double x);

#endif
