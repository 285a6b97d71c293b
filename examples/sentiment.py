#!/usr/bin/python3
"""sentiment.py: examples/sentiment.c in PyTorch: trains an embedding layer where it lies, in a store opened
writable.

    embstore create -o words.emb --table words --rows 1000 --dim 16 --std 0.1 --seed 1 --adagrad-state
    python3 examples/sentiment.py words.emb words [EPOCHS]

The same synthetic task as sentiment.c: a sentence is 10 token ids; ids below 250 are "positive" words, ids from
250 to 499 "negative", the rest neutral, and a sentence is positive when it holds more positive words than
negative ones. The model: embstore.torch.EmbeddingBag (mean of the sentence's rows, read from the mapped table),
then torch.nn.Linear and a sigmoid (logistic regression). loss.backward() gives the Linear its gradients and hands
the looked-up ids with their gradient rows to the embedding layer; torch.optim.SGD steps the Linear and
embstore.torch.RowWiseAdagrad the table, in the file itself (its state in the table words.adagrad_state);
store.sync() commits the changed chunks after each epoch. Prints the loss and accuracy of each epoch (the loss
falls), then checks every checksum of the trained file, as `embstore verify` does. Exit status 0 on success, 1 on
any error (with a message on standard error).
"""

import sys

import torch

import embstore
import embstore.torch

SENTENCES, LENGTH, BATCH, VOCAB, POSITIVE_END, NEGATIVE_END = 2048, 10, 32, 1000, 250, 500
EMBEDDING_RATE, CLASSIFIER_RATE = 0.1, 1.0
MASK = (1 << 64) - 1


def splitmix64(state):
    """sentiment.c's generator, so that both train on the same sentences: yields its numbers from `state`."""
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        yield z ^ (z >> 31)


def make_dataset():
    draw = splitmix64(42)
    ids, labels = [], []
    while len(ids) < SENTENCES:
        sentence = [next(draw) % VOCAB for _ in range(LENGTH)]
        balance = sum(1 if i < POSITIVE_END else -1 if i < NEGATIVE_END else 0 for i in sentence)
        if balance:  # a tie has no label: draw again
            ids.append(sentence)
            labels.append(1.0 if balance > 0 else 0.0)
    return torch.tensor(ids), torch.tensor(labels)


def train(store, name, epochs):
    table = store[name]
    if table.rows < VOCAB:
        raise ValueError(f"table {name!r} has {table.rows} rows; the task needs {VOCAB}")
    embedding = embstore.torch.EmbeddingBag(table, mode="mean")
    classifier = torch.nn.Linear(table.dim, 1)
    torch.nn.init.zeros_(classifier.weight)  # as sentiment.c starts
    torch.nn.init.zeros_(classifier.bias)
    dense = torch.optim.SGD(classifier.parameters(), lr=CLASSIFIER_RATE)
    sparse = embstore.torch.RowWiseAdagrad([embedding], lr=EMBEDDING_RATE)
    ids, labels = make_dataset()
    for epoch in range(1, epochs + 1):
        total, correct = 0.0, 0
        for first in range(0, SENTENCES, BATCH):
            x, y = ids[first:first + BATCH], labels[first:first + BATCH]
            logits = classifier(embedding(x)).squeeze(1)  # x: (BATCH, LENGTH), bags of equal length
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
            dense.zero_grad()
            sparse.zero_grad()
            loss.backward()
            dense.step()
            sparse.step()  # only the looked-up rows change, in the file, marked for the next sync
            total += loss.item() * len(y)
            correct += int(((logits > 0) == (y > 0.5)).sum())
        store.sync()  # commit this epoch's rows: checksums, crash-safely
        print(f"epoch {epoch}: loss {total / SENTENCES:.4f}, training accuracy {correct / SENTENCES:.3f}",
              flush=True)
    store.verify()
    print(f"{store.path}: every checksum verified")


def main(argv):
    if not 3 <= len(argv) <= 4:
        print("usage: sentiment.py STORE TABLE [EPOCHS]", file=sys.stderr)
        return 1
    epochs = int(argv[3]) if len(argv) == 4 and argv[3].isdigit() else 10 if len(argv) == 3 else 0
    if epochs < 1:
        print("sentiment.py: EPOCHS must be a positive number", file=sys.stderr)
        return 1
    try:
        with embstore.open(argv[1], writable=True) as store:
            train(store, argv[2], epochs)
    except (embstore.Error, OSError, KeyError, ValueError) as e:
        print(f"sentiment.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
