/* fuzz_vectors_text.c: libFuzzer target of the text parser (src/vecparse_text.c): word2vec text / fastText .vec
 * with a header and GloVe without, and of format detection; the sink in fuzz_vecparse.h aborts on a broken
 * promise. */
#include "fuzz_vecparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static embstore_status with_header(const es_vec_input *in, const es_vec_options *o, const es_vec_sink *s)
{
	return es_parse_vectors_text(in, true, o, s);
}

static embstore_status glove(const es_vec_input *in, const es_vec_options *o, const es_vec_sink *s)
{
	return es_parse_vectors_text(in, false, o, s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_parse_all(data, size, with_header);
	fuzz_parse_all(data, size, glove);
	return 0;
}
