/* util.h: checked arithmetic, little-endian access and error-forwarding macros used across the library. */
#ifndef EMBSTORE_UTIL_H
#define EMBSTORE_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "embstore.h"

/* Checked 64-bit arithmetic: false on overflow, *out untouched then. Every size computed from file data goes
 * through these (docs/SECURITY.md). */
static inline bool es_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

static inline bool es_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

/* Rounds x up to a multiple of `align` (a power of two). */
static inline bool es_align_up(uint64_t x, uint64_t align, uint64_t *out)
{
	uint64_t t;
	if (!es_add_u64(x, align - 1, &t))
		return false;
	*out = t & ~(align - 1);
	return true;
}

static inline bool es_is_pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

/* The format is little-endian; these compile to plain loads on little-endian machines and work on any. */
static inline uint16_t es_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t es_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t es_le64(const uint8_t *p)
{
	return (uint64_t)es_le32(p) | ((uint64_t)es_le32(p + 4) << 32);
}

static inline void es_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void es_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void es_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Return early on error, in the style of zstd's FORWARD_IF_ERROR. */
#define ES_TRY(expr)                                                                                   \
	do {                                                                                               \
		embstore_status es_try_status_ = (expr);                                                       \
		if (es_try_status_ != EMBSTORE_OK)                                                             \
			return es_try_status_;                                                                     \
	} while (0)

#define ES_CHECK(cond, status)                                                                         \
	do {                                                                                               \
		if (!(cond))                                                                                   \
			return (status);                                                                           \
	} while (0)

/* errors.c: the text embstore_error_detail returns. The public calls that document a detail clear it when they
 * start and set it where they fail; a printf format, cut to a few hundred bytes. */
void es_detail_clear(void);
void es_detail(const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 1, 2)))
#endif
	;

/* ES_CHECK that also records what failed, for embstore_error_detail. */
#define ES_CHECKF(cond, status, ...)                                                                   \
	do {                                                                                               \
		if (!(cond)) {                                                                                 \
			es_detail(__VA_ARGS__);                                                                    \
			return (status);                                                                           \
		}                                                                                              \
	} while (0)

/* utf8.c: true when s[0..len) is valid UTF-8 (RFC 3629: no overlongs, surrogates or code points above
 * U+10FFFF) and contains no zero byte. */
bool es_utf8_valid(const uint8_t *s, uint64_t len);

#endif
