"""embstore.torch against torch itself: the layers' forward passes equal torch.nn.Embedding / embedding_bag on the
same values; trained with embstore.torch.SGD they follow torch's sparse SGD, and with RowWiseAdagrad a numpy
reference; the optimizers' errors. Skipped (and reported so) where torch cannot be imported."""

import numpy as np
import pytest

import embstore
from conftest import DTYPES, adagrad_reference, bf16_round, stored_values

torch = pytest.importorskip("torch")
import embstore.torch as et  # noqa: E402 (after the skip)

F = torch.nn.functional
MODES = ("sum", "mean", "max")


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture
def trainable(tmp_path, weights):
    """A writable store: f32, f16, bf16 and int8 tables of `weights`, the f32 one with its Adagrad state."""
    p = tmp_path / "train.emb"
    embstore.build(p, {d: weights for d in DTYPES} | {"f32.adagrad_state": np.zeros((len(weights), 1), np.float32)},
                   dtype={d: d for d in DTYPES})
    with embstore.open(p, writable=True) as s:
        yield s


def bags(rng, rows, n_bags, max_len):
    lens = rng.integers(0, max_len + 1, n_bags)
    lens[n_bags // 2] = 0  # an empty bag
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]])
    return torch.from_numpy(rng.integers(0, rows, int(lens.sum()))), torch.from_numpy(offsets)


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_forward_equals_torch(trainable, rng, dtype):
    t = trainable[dtype]
    ref = torch.nn.Embedding.from_pretrained(torch.from_numpy(stored_values(t)))
    emb = et.Embedding(t)
    for shape in [(7,), (3, 5), (2, 3, 4)]:
        for id_dtype in (torch.int64, torch.int32):
            ids = torch.from_numpy(rng.integers(0, t.rows, shape)).to(id_dtype)
            out = emb(ids)
            assert out.dtype == torch.float32 and out.shape == shape + (t.dim,)
            assert torch.equal(out, ref(ids))  # the same f32 values gathered: equal bits
    # against the f32 values the table was made from: within the rounding of its dtype
    orig = torch.nn.Embedding.from_pretrained(torch.from_numpy(trainable["f32"].array().copy()))
    ids = torch.arange(t.rows)
    tol = {"f32": 0, "f16": 1e-3, "bf16": 8e-3, "int8": 2e-2}[dtype]
    torch.testing.assert_close(emb(ids), orig(ids), rtol=tol, atol=tol)
    with pytest.raises(IndexError, match=f"id {t.rows} at position 1"):
        emb(torch.tensor([0, t.rows]))
    with pytest.raises(TypeError, match="integer tensor"):
        emb(torch.tensor([0.0]))


def reference_bag(w, ids, offsets, mode, psw):
    """torch's embedding_bag where torch takes the arguments; mean and max with weights built from torch ops
    (torch takes weights with sum only)."""
    if psw is None or mode == "sum":
        return F.embedding_bag(ids, w, offsets, mode=mode, per_sample_weights=psw)
    ends = torch.cat([offsets[1:], torch.tensor([len(ids)])])
    out = torch.zeros(len(offsets), w.shape[1])
    for b, (lo, hi) in enumerate(zip(offsets.tolist(), ends.tolist())):
        if hi > lo:
            rows = w[ids[lo:hi]] * psw[lo:hi, None]
            out[b] = rows.sum(0) / (hi - lo) if mode == "mean" else rows.max(0).values
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("weighted", [False, True])
def test_embedding_bag_forward_equals_torch(trainable, rng, dtype, mode, weighted):
    t = trainable[dtype]
    w = torch.from_numpy(stored_values(t))
    ids, offsets = bags(rng, t.rows, 30, 12)
    psw = torch.from_numpy(rng.standard_normal(len(ids)).astype(np.float32)) if weighted else None
    want = reference_bag(w, ids, offsets, mode, psw)
    bag = et.EmbeddingBag(t, mode=mode)
    # Where torch computes it, equal bits (the kernels add in torch's order, products rounded as torch's); the
    # references made of torch ops (weights with mean and max) round differently
    tol = 0 if psw is None or mode == "sum" else 1e-6
    torch.testing.assert_close(bag(ids, offsets, psw), want, rtol=tol, atol=tol)
    last = et.EmbeddingBag(t, mode=mode, include_last_offset=True)
    torch.testing.assert_close(last(ids, torch.cat([offsets, torch.tensor([len(ids)])]), psw), want, rtol=tol,
                               atol=tol)
    ids2 = torch.from_numpy(rng.integers(0, t.rows, (6, 4)))
    psw2 = None if psw is None else torch.rand(6, 4)
    want2 = reference_bag(w, ids2.reshape(-1), torch.arange(6) * 4, mode, None if psw2 is None else psw2.reshape(-1))
    torch.testing.assert_close(bag(ids2, per_sample_weights=psw2), want2, rtol=tol, atol=tol)
    # against the table's original f32 values: within the rounding of its dtype
    orig = torch.from_numpy(trainable["f32"].array().copy())
    tol = {"f32": 1e-6, "f16": 5e-3, "bf16": 4e-2, "int8": 1e-1}[dtype]
    torch.testing.assert_close(bag(ids, offsets, psw), reference_bag(orig, ids, offsets, mode, psw), rtol=tol,
                               atol=tol)


def test_embedding_bag_refuses_what_it_cannot_read(trainable):
    bag = et.EmbeddingBag(trainable["f32"], mode="sum")
    with pytest.raises(ValueError, match="input with offsets must be 1-D"):
        bag(torch.zeros(2, 2, dtype=torch.long), torch.tensor([0]))
    with pytest.raises(ValueError, match="input without offsets must be 2-D"):
        bag(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="include_last_offset needs offsets"):
        et.EmbeddingBag(trainable["f32"], include_last_offset=True)(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="per_sample_weights has shape"):
        bag(torch.zeros(4, dtype=torch.long), torch.tensor([0]), torch.ones(3))
    with pytest.raises(ValueError, match="mode must be"):
        et.EmbeddingBag(trainable["f32"], mode="min")
    with pytest.raises(TypeError, match="embstore.Table"):
        et.Embedding(torch.zeros(3, 3))


def torch_sparse_training(w, make_layer, batches, lr):
    """torch's own: a layer over a copy of `w` (with sparse gradients, but in max mode, which torch refuses to
    make sparse: a dense gradient's zero rows leave their rows unchanged alike), trained by torch.optim.SGD."""
    layer = make_layer(torch.from_numpy(w.copy()))
    opt = torch.optim.SGD(layer.parameters(), lr=lr)
    for args, g in batches:
        opt.zero_grad()
        (layer(*args) * g).sum().backward()
        opt.step()
    return layer.weight.detach().numpy()


def embstore_training(layer, batches, opt):
    for args, g in batches:
        opt.zero_grad()
        (layer(*args) * g).sum().backward()
        opt.step()


def test_embedding_trained_with_sgd_follows_torch(trainable, weights, rng):
    t = trainable["f32"]
    batches = []
    for _ in range(5):
        ids = torch.from_numpy(rng.integers(0, 40, (8, 6)))  # 48 ids among 40 rows: duplicates
        batches.append(((ids,), torch.randn(8, 6, t.dim)))
    want = torch_sparse_training(weights, lambda w: torch.nn.Embedding.from_pretrained(
        w, freeze=False, sparse=True, padding_idx=3), batches, lr=0.3)
    emb = et.Embedding(t, padding_idx=3)
    embstore_training(emb, batches, et.SGD(emb, lr=0.3))
    np.testing.assert_allclose(t.array(), want, rtol=1e-5, atol=1e-6)  # torch adds duplicates one at a time
    np.testing.assert_array_equal(t.array()[3], weights[3])  # the padding row has no gradient
    assert not np.array_equal(t.array()[:40], weights[:40])
    trainable.sync()
    trainable.verify()


# torch takes per_sample_weights with mode="sum" only; test_per_sample_weight_gradients covers the others
@pytest.mark.parametrize("mode,weighted", [("sum", False), ("sum", True), ("mean", False), ("max", False)])
def test_embedding_bag_trained_with_sgd_follows_torch(trainable, weights, rng, mode, weighted):
    t = trainable["f32"]
    batches = []
    for _ in range(4):
        ids, offsets = bags(rng, 50, 12, 6)
        psw = torch.rand(len(ids)) if weighted else None
        batches.append(((ids, offsets, psw), torch.randn(12, t.dim)))
    want = torch_sparse_training(weights, lambda w: torch.nn.EmbeddingBag.from_pretrained(
        w, freeze=False, sparse=mode != "max", mode=mode), batches, lr=0.2)
    bag = et.EmbeddingBag(t, mode=mode)
    embstore_training(bag, batches, et.SGD([bag], lr=0.2))
    np.testing.assert_allclose(t.array(), want, rtol=1e-5, atol=1e-6)
    assert not np.array_equal(t.array()[:50], weights[:50])


@pytest.mark.parametrize("mode", MODES)
def test_per_sample_weight_gradients(trainable, rng, mode):
    """The gradient of the weights and of the rows against autograd through torch ops on a dense copy."""
    t = trainable["f32"]
    w = torch.from_numpy(t.array().copy()).requires_grad_()
    ids, offsets = bags(rng, 30, 10, 7)
    psw = torch.rand(len(ids), requires_grad=True)
    g = torch.randn(10, t.dim)
    (reference_bag(w, ids, offsets, mode, psw) * g).sum().backward()
    want_w, want_psw = w.grad.clone(), psw.grad.clone()
    psw.grad = None
    bag = et.EmbeddingBag(t, mode=mode)
    (bag(ids, offsets, psw) * g).sum().backward()
    torch.testing.assert_close(psw.grad, want_psw, rtol=1e-5, atol=1e-5)
    (rec_ids, rec_rows), = bag._pending
    dense = np.zeros_like(t.array())
    np.add.at(dense, rec_ids, rec_rows)
    np.testing.assert_allclose(dense, want_w.numpy(), rtol=1e-5, atol=1e-6)


def test_rowwise_adagrad_matches_numpy(trainable, weights, rng):
    t, state = trainable["f32"], trainable["f32.adagrad_state"]
    emb = et.Embedding(t)
    opt = et.RowWiseAdagrad([emb], lr=0.05, eps=1e-8, weight_decay=0.01)
    w, s = weights.astype(np.float64), np.zeros(t.rows)
    for _ in range(4):
        opt.zero_grad()
        ids, grads = [], []
        for _ in range(2):  # two backward passes before one step: their gradients are summed, ids repeat
            i = rng.integers(0, 30, 20)
            g = torch.randn(20, t.dim)
            (emb(torch.from_numpy(i)) * g).sum().backward()
            ids.append(i)
            grads.append(g.numpy())
        opt.step()
        w, s = adagrad_reference(w.astype(np.float32), s, np.concatenate(ids), np.concatenate(grads), 0.05, 1e-8,
                                 0.01)
    np.testing.assert_allclose(t.array(), w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state.array()[:, 0], s, rtol=1e-5)
    assert not emb._pending  # step() took them
    trainable.sync()
    trainable.verify()  # the state's rows were marked too


def test_layers_beside_dense_parameters(trainable, weights, rng):
    """A model of an EmbeddingBag and a Linear: model.parameters() is the Linear's, the table is the embstore
    optimizer's; each optimizer steps its own part."""
    t = trainable["f32"]
    model = torch.nn.Sequential(et.EmbeddingBag(t, mode="mean"), torch.nn.Linear(t.dim, 1))
    assert [p.shape for p in model.parameters()] == [torch.Size([1, t.dim]), torch.Size([1])]
    assert set(model.state_dict()) == {"1.weight", "1.bias"}
    dense = torch.optim.SGD(model.parameters(), lr=0.1)
    sparse = et.RowWiseAdagrad(model, lr=0.1)  # finds the layer inside the model
    linear_before = model[1].weight.detach().clone()
    x = torch.from_numpy(rng.integers(0, 20, (4, 5)))
    model(x).sum().backward()
    dense.step()
    sparse.step()
    assert not torch.equal(model[1].weight, linear_before)
    changed = np.flatnonzero((t.array() != weights).any(axis=1))
    np.testing.assert_array_equal(changed, np.unique(x.numpy()))
    before = t.array().copy()
    sparse.step()  # nothing recorded since: nothing changes
    model(x).sum().backward()
    sparse.zero_grad()  # dropped
    sparse.step()
    with torch.no_grad():
        model(x).sum()  # no graph, nothing recorded
    sparse.step()
    np.testing.assert_array_equal(t.array(), before)


def test_two_layers_over_one_table_take_one_step(trainable, weights):
    """Gradients of one table from two layers are summed before the row-wise step, as torch sums them."""
    t = trainable["f32"]
    a, b = et.Embedding(t), et.EmbeddingBag(t, mode="sum")
    opt = et.RowWiseAdagrad([a, b], lr=0.5)
    g = torch.ones(1, t.dim)
    (a(torch.tensor([7])) * g).sum().backward()
    (b(torch.tensor([[7]])) * g).sum().backward()
    opt.step()
    # one step with g = 2: s = 4, w -= 0.5 / 2 * 2
    np.testing.assert_allclose(t.array()[7], weights[7] - 0.5, rtol=1e-6)
    assert trainable["f32.adagrad_state"].array()[7, 0] == 4


def test_optimizer_errors(trainable, store_path):
    with pytest.raises(ValueError, match=r"no table 'f16.adagrad_state'.*adagrad_state=True.*--adagrad-state"):
        et.RowWiseAdagrad(et.Embedding(trainable["f16"]))
    with pytest.raises(embstore.Error, match="int8 tables cannot be trained") as e:
        et.SGD(et.Embedding(trainable["int8"]), lr=0.1)
    assert e.value.status == "BAD_DTYPE"
    with embstore.open(store_path) as ro:
        with pytest.raises(embstore.Error, match="writable=True") as e:
            et.SGD(et.EmbeddingBag(ro["f32"]), lr=0.1)
        assert e.value.status == "READ_ONLY"
        # a read-only store still serves the forward pass
        assert et.Embedding(ro["f32"])(torch.tensor([1])).shape == (1, 24)
    with pytest.raises(TypeError, match="take modules"):
        et.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="no embstore.torch.Embedding"):
        et.SGD(torch.nn.Linear(2, 2), lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        et.SGD(et.Embedding(trainable["f32"]), lr=-1)
    with pytest.raises(ValueError, match="Invalid epsilon"):
        et.RowWiseAdagrad(et.Embedding(trainable["f32"]), eps=-1)
    embstore.build(store_path.parent / "bad.emb", {"e": np.zeros((4, 2), np.float32),
                                                   "e.adagrad_state": np.zeros((4, 2), np.float32)})
    with embstore.open(store_path.parent / "bad.emb", writable=True) as bad:
        with pytest.raises(ValueError, match=r"is 4 x 2 f32; the row-wise Adagrad state of 'e' must be 4 x 1 f32"):
            et.RowWiseAdagrad(et.Embedding(bad["e"]))


def test_learning_rate_schedulers_drive_the_optimizers(trainable, weights):
    t = trainable["f32"]
    emb = et.Embedding(t)
    opt = et.SGD(emb, lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(2):
        emb(torch.tensor([2])).sum().backward()
        opt.step()
        sched.step()
    np.testing.assert_allclose(t.array()[2], weights[2] - 1.5)  # lr 1, then 0.5
    assert isinstance(opt, torch.optim.Optimizer) and opt.param_groups[0]["lr"] == 0.25


def test_bf16_and_f16_tables_train(trainable, weights):
    for dtype in ("f16", "bf16"):
        t = trainable[dtype]
        emb = et.Embedding(t)
        opt = et.SGD(emb, lr=0.5)
        emb(torch.tensor([5, 5])).sum().backward()
        opt.step()
        want = stored_values(t)[5]
        base = weights[5].astype(np.float16).astype(np.float32) if dtype == "f16" else bf16_round(weights[5])
        tol = 1e-3 if dtype == "f16" else 8e-3
        np.testing.assert_allclose(want, base - 1.0, rtol=tol, atol=tol)


def test_bad_ids_are_named_by_position(trainable):
    bag = et.EmbeddingBag(trainable["f32"], mode="sum")
    with pytest.raises(IndexError, match=r"id 300 at position \(1, 0\)"):
        bag(torch.tensor([[0, 1], [300, 2]]))
    with pytest.raises(IndexError, match=r"id -1 at position 2"):
        bag(torch.tensor([0, 1, -1]), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="offsets must be non-decreasing"):
        bag(torch.tensor([0, 1, 2]), torch.tensor([0, 2, 1]))
