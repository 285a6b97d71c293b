/* test_fuzz.c: a deterministic mutation fuzzer over the reader, run as a test. Random bit flips, byte writes,
 * truncations and extensions of a valid file, with and without the header checksum resealed (so mutations
 * reach the rules behind it). Opening and verifying must return a status and never crash; exact buffers let
 * sanitizer builds catch any overread. The coverage-guided fuzzer is a later issue. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "testutil.h"

static void mutate(uint8_t *b, size_t len, uint64_t *s)
{
	int edits = 1 + (int)(tu_rand(s) % 4);
	uint64_t dir = tu_dir_offset(b), dir_end = dir + es_le64(b + ES_SB_DIR_SIZE);
	for (int e = 0; e < edits; e++) {
		/* Aim most edits at the superblock and directory, where the parser lives. (Damage to one checksum slot
		 * is tolerated by design, so the slots take only their share of the uniform edits.) */
		uint64_t r = tu_rand(s);
		size_t pos;
		if (r % 3 == 0)
			pos = (size_t)(tu_rand(s) % ES_SUPERBLOCK_SIZE);
		else if (r % 3 == 1 && dir < dir_end && dir_end <= len)
			pos = (size_t)(dir + tu_rand(s) % (dir_end - dir));
		else
			pos = (size_t)(tu_rand(s) % len);
		switch (tu_rand(s) % 4) {
		case 0: b[pos] ^= (uint8_t)(1u << (tu_rand(s) % 8)); break;
		case 1: b[pos] = (uint8_t)tu_rand(s); break;
		case 2: b[pos] = 0xFF; break;
		default: b[pos] = 0; break;
		}
	}
}

Test(fuzz, mutated_files_never_crash, .timeout = 120)
{
	size_t len;
	uint8_t *orig = tu_sample_store(&len);
	uint8_t *b = malloc(len + 64);
	uint64_t s = 12345;
	int ok = 0;
	for (int iter = 0; iter < 200000; iter++) {
		memcpy(b, orig, len);
		size_t n = len;
		mutate(b, n, &s);
		if (tu_rand(&s) % 8 == 0)
			n = (size_t)(tu_rand(&s) % (len + 64));
		if (n > len)
			memset(b + len, (int)(tu_rand(&s) & 0xFF), n - len);
		if (tu_rand(&s) % 2)
			tu_reseal(b, n);
		embstore_status st = tu_open_status(b, n, 1);
		cr_assert_str_neq(embstore_status_name(st), "UNKNOWN", "status %d", st);
		ok += st == EMBSTORE_OK;
	}
	/* Most mutations must be refused, or the fuzzer is not mutating anything that matters. */
	cr_expect_lt(ok, 20000);
	free(b);
	free(orig);
}

Test(fuzz, mutated_npy_headers_never_crash)
{
	static const char good[] = "\x93NUMPY\x01\x00\x72\x00{'descr': '<f4', 'fortran_order': False, "
	                           "'shape': (1000, 16), }                                                  \n";
	size_t len = sizeof good - 1;
	uint8_t *b = malloc(len);
	uint64_t s = 777;
	int ok = 0;
	for (int iter = 0; iter < 100000; iter++) {
		memcpy(b, good, len);
		int edits = 1 + (int)(tu_rand(&s) % 3);
		for (int e = 0; e < edits; e++)
			b[tu_rand(&s) % len] = (uint8_t)" ',:()0123456789{}FTx<>f\n\x00\xff"[tu_rand(&s) % 28];
		size_t n = tu_rand(&s) % 4 == 0 ? (size_t)(tu_rand(&s) % len) : len;
		uint8_t *exact = malloc(n ? n : 1);
		memcpy(exact, b, n);
		embstore_npy_info info;
		embstore_status st = embstore_npy_parse(exact, n, &info);
		if (st == EMBSTORE_OK) {
			ok++;
			cr_assert(info.rows >= 1 && info.cols >= 1 && info.data_offset <= n);
		} else {
			cr_assert(st == EMBSTORE_BAD_INPUT || st == EMBSTORE_LIMIT, "%s", embstore_status_name(st));
		}
		free(exact);
	}
	cr_expect_gt(ok, 0);
	cr_expect_lt(ok, 100000);
	free(b);
}
