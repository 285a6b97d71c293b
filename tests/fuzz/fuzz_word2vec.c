/* fuzz_word2vec.c: libFuzzer target of the word2vec binary parser (src/vecparse_binary.c) and of format
 * detection; the sink in fuzz_vecparse.h aborts on a broken promise. */
#include "fuzz_vecparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_parse_all(data, size, es_parse_word2vec_binary);
	return 0;
}
