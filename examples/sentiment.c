/* sentiment.c: trains an embedding layer where it lies, in a store opened writable.
 *
 *   embstore create -o words.emb --table words --rows 1000 --dim 16 --std 0.1 --seed 1
 *   sentiment words.emb words [EPOCHS]
 *
 * The task is synthetic and small: a sentence is 10 token ids; ids below 250 are "positive" words, ids from 250
 * to 499 "negative", the rest neutral, and a sentence is positive when it holds more positive words than
 * negative ones. The model is the Embedding layer's forward pass (a gather, here mean-pooled per sentence by
 * embstore_gather_bag), then logistic regression. The backward pass gives each looked-up row the gradient
 * dloss/dpooled / 10; the SGD step adds those rows, times -learning rate, into the mapped table (repeated ids
 * accumulate), and embstore_sync commits the changed chunks at the end of each epoch, so `embstore verify` passes
 * on the file whenever the program is between epochs or done. Any other process that maps the store sees the
 * rows change as it trains. Prints the mean loss and the accuracy of each epoch (the loss falls).
 * Exit status 0 on success, 1 on any error (with a message on standard error).
 */
#include <embstore.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SENTENCES = 2048, LENGTH = 10, BATCH = 32, VOCAB = 1000, POSITIVE_END = 250, NEGATIVE_END = 500 };
#define EMBEDDING_RATE 10.0f
#define CLASSIFIER_RATE 1.0f

typedef struct dataset {
	int64_t ids[SENTENCES][LENGTH];
	float label[SENTENCES];
} dataset;

/* SplitMix64: the example's own generator, so that every run trains on the same sentences. */
static uint64_t next_random(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static void make_dataset(dataset *d)
{
	uint64_t s = 42;
	for (int i = 0; i < SENTENCES; i++) {
		int balance;
		do { /* a tie has no label: draw again */
			balance = 0;
			for (int t = 0; t < LENGTH; t++) {
				int64_t id = (int64_t)(next_random(&s) % VOCAB);
				d->ids[i][t] = id;
				balance += id < POSITIVE_END ? 1 : id < NEGATIVE_END ? -1 : 0;
			}
		} while (balance == 0);
		d->label[i] = balance > 0 ? 1.0f : 0.0f;
	}
}

static const char *reason(embstore_status st)
{
	return st == EMBSTORE_IO ? strerror(errno) : embstore_strerror(st);
}

/* One mini-batch: forward, loss, backward, update. Adds the batch's summed loss and correct answers. */
static embstore_status train_batch(embstore *store, const embstore_table *t, const dataset *d, int first,
                                   float *w, float *b, double *loss, int *correct)
{
	enum { D_MAX = 1024 };
	uint32_t dim = t->matrix.dim;
	static int64_t offsets[BATCH + 1];
	static float pooled[BATCH * D_MAX], grads[BATCH * LENGTH * D_MAX];
	float dw[D_MAX] = {0}, db = 0;
	for (int k = 0; k <= BATCH; k++)
		offsets[k] = (int64_t)k * LENGTH;
	const int64_t *ids = &d->ids[first][0]; /* BATCH sentences, one after the other */

	embstore_status st = embstore_gather_bag(&t->matrix, ids, EMBSTORE_ID64, BATCH * LENGTH, offsets, BATCH, NULL,
	                                         EMBSTORE_BAG_MEAN, pooled, NULL);
	if (st != EMBSTORE_OK)
		return st;
	for (int k = 0; k < BATCH; k++) {
		const float *h = pooled + (size_t)k * dim;
		float z = *b;
		for (uint32_t j = 0; j < dim; j++)
			z += w[j] * h[j];
		float p = 1.0f / (1.0f + expf(-z)), y = d->label[first + k];
		*loss -= y * logf(p + 1e-7f) + (1 - y) * logf(1 - p + 1e-7f);
		*correct += (p > 0.5f) == (y > 0.5f);
		float dz = (p - y) / BATCH; /* d(mean loss)/dz */
		db += dz;
		for (uint32_t j = 0; j < dim; j++) {
			dw[j] += dz * h[j];
			/* Mean pooling: each of the sentence's rows gets 1/LENGTH of d(loss)/d(pooled). */
			for (int i = 0; i < LENGTH; i++)
				grads[((size_t)k * LENGTH + (size_t)i) * dim + j] = dz * w[j] / LENGTH;
		}
	}
	for (uint32_t j = 0; j < dim; j++)
		w[j] -= CLASSIFIER_RATE * dw[j];
	*b -= CLASSIFIER_RATE * db;
	/* The sparse update: only the looked-up rows change, in the file, marked for the next sync. */
	return embstore_table_scatter_add(store, t->index, ids, EMBSTORE_ID64, BATCH * LENGTH, grads, -EMBEDDING_RATE,
	                                  NULL, 1);
}

static int train(embstore *store, const char *name, int epochs)
{
	embstore_table t;
	embstore_status st = embstore_table_find(store, name, &t);
	if (st == EMBSTORE_OK && (t.matrix.dtype != EMBSTORE_F32 || t.matrix.dim > 1024 || t.matrix.rows < VOCAB)) {
		fprintf(stderr, "sentiment: table '%s' must be f32, at most 1024 wide, with at least %d rows\n", name, VOCAB);
		return EXIT_FAILURE;
	}
	dataset *d = malloc(sizeof *d);
	if (st == EMBSTORE_OK && d == NULL)
		st = EMBSTORE_NO_MEMORY;
	float w[1024] = {0}, b = 0;
	if (st == EMBSTORE_OK)
		make_dataset(d);
	for (int e = 1; e <= epochs && st == EMBSTORE_OK; e++) {
		double loss = 0;
		int correct = 0;
		for (int first = 0; first < SENTENCES && st == EMBSTORE_OK; first += BATCH)
			st = train_batch(store, &t, d, first, w, &b, &loss, &correct);
		if (st == EMBSTORE_OK) /* commit this epoch's rows: checksums and header, crash-safely */
			st = embstore_sync(store);
		if (st == EMBSTORE_OK) {
			printf("epoch %d: loss %.4f, training accuracy %.3f\n", e, loss / SENTENCES, (double)correct / SENTENCES);
			fflush(stdout);
		}
	}
	free(d);
	if (st != EMBSTORE_OK) {
		fprintf(stderr, "sentiment: table '%s': %s\n", name, reason(st));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: sentiment STORE TABLE [EPOCHS]\n");
		return EXIT_FAILURE;
	}
	int epochs = argc == 4 ? atoi(argv[3]) : 10;
	if (epochs < 1) {
		fprintf(stderr, "sentiment: EPOCHS must be a positive number\n");
		return EXIT_FAILURE;
	}
	embstore *store;
	embstore_status st = embstore_open(argv[1], EMBSTORE_OPEN_WRITABLE, &store);
	if (st != EMBSTORE_OK) {
		fprintf(stderr, "sentiment: %s: %s\n", argv[1], reason(st));
		return EXIT_FAILURE;
	}
	int rc = train(store, argv[2], epochs);
	embstore_close(store);
	return rc;
}
