"""embstore.torch: PyTorch layers whose weights are a store's table, trained where the table lies.

    import torch, embstore, embstore.torch
    store = embstore.open("words.emb", writable=True)          # embstore create ... --adagrad-state
    emb = embstore.torch.EmbeddingBag(store["words"], mode="mean")
    head = torch.nn.Linear(emb.embedding_dim, 1)
    dense = torch.optim.SGD(head.parameters(), lr=0.1)         # the model's parameters: the dense part
    sparse = embstore.torch.RowWiseAdagrad([emb], lr=0.1)       # the table
    loss = torch.nn.functional.binary_cross_entropy_with_logits(head(emb(ids)).squeeze(1), labels)
    loss.backward()                                            # records (ids, gradient rows) on emb
    dense.step(); sparse.step()                                # sparse: the C optimizer, in the mapped file
    dense.zero_grad(); sparse.zero_grad()
    store.sync()                                               # now and then: commits the changed chunks

Forward passes are the library's kernels (gather, embedding bag) writing into a new float32 array that becomes the
output tensor with no further copy. The tables are not torch Parameters: a module's parameters() and state_dict()
are empty, so a torch optimizer over model.parameters() leaves them alone and one of the optimizers below trains
them. Their backward never makes a dense (rows x dim) gradient: it hands the (ids, gradient rows) of the batch to
the module, where the optimizer's step() finds them. CPU tensors only. docs/PYTHON.md has the whole story.

Only imported when asked for (`import embstore.torch`): `import embstore` does not import torch.
"""

import numpy as np
import torch

from . import _kernels
from ._errors import Error
from ._lib import STATUS_BAD_DTYPE, STATUS_READ_ONLY
from ._store import Table

__all__ = ["Embedding", "EmbeddingBag", "SGD", "RowWiseAdagrad"]

STATE_SUFFIX = ".adagrad_state"  # the state table's name, as `embstore create --adagrad-state` writes it


def _ids_tensor(x):
    """The ids as a CPU integer tensor (no copy for a tensor; lists and numpy arrays are converted)."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.device.type != "cpu":
        raise ValueError(f"embstore.torch runs on the CPU; the ids are on {t.device}")
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"ids must be an integer tensor (int64 or int32), not {t.dtype}")
    return t


class _Sparse(torch.nn.Module):
    """What Embedding and EmbeddingBag share: the table, and the gradients recorded by backward passes until an
    optimizer's step() or zero_grad() takes them."""

    def __init__(self, table):
        super().__init__()
        if not isinstance(table, Table):
            raise TypeError(f"table must be an embstore.Table (store[name]), not {type(table).__name__}")
        self.table = table
        self.num_embeddings = table.rows
        self.embedding_dim = table.dim
        # The autograd functions need an input that requires grad, or their outputs would not either (and no
        # backward would run). A plain attribute, not a Parameter: nothing of torch sees or updates it.
        self._anchor = torch.empty(0, requires_grad=True)
        self._pending = []  # [(1-D ids, float32 (len(ids), dim) gradient rows)]

    def _record(self, ids, rows):
        if ids.size:
            self._pending.append((ids, rows))

    def _take_gradients(self):
        """The recorded gradients, cleared from the module."""
        pending, self._pending = self._pending, []
        return pending

    def extra_repr(self):
        t = self.table
        return f"{t.name!r}: {t.rows} x {t.dim} {t.dtype}"


class _Gather(torch.autograd.Function):
    @staticmethod
    def forward(ctx, anchor, ids, module):
        ctx.module = module
        ctx.save_for_backward(ids)  # torch refuses the backward if the ids are changed in place meanwhile
        return torch.from_numpy(module.table.lookup(ids.numpy()))

    @staticmethod
    def backward(ctx, grad):
        module = ctx.module
        ids = ctx.saved_tensors[0].numpy().reshape(-1)
        rows = np.ascontiguousarray(grad.detach().numpy().reshape(-1, module.embedding_dim), dtype=np.float32)
        if module.padding_idx is not None:
            keep = ids != module.padding_idx
            if not keep.all():
                ids, rows = ids[keep], rows[keep]
        module._record(ids, rows)
        return None, None, None


class Embedding(_Sparse):
    """torch.nn.Embedding over `table` (an embstore.Table; f32, f16, bf16 or int8, looked up as float32):
    forward(ids) of any shape gives float32 of shape ids.shape + (dim,), the rows of the ids; an id out of range
    raises IndexError. padding_idx: that id's row gets no gradient (as torch; unlike torch, its row is whatever the
    table holds, not set to zeros). Rows are trained by embstore.torch.SGD or RowWiseAdagrad."""

    def __init__(self, table, padding_idx=None):
        super().__init__(table)
        if padding_idx is not None:
            padding_idx = int(padding_idx)
            if padding_idx < 0:
                padding_idx += table.rows  # as torch: -1 is the last row
            if not 0 <= padding_idx < table.rows:
                raise ValueError(f"padding_idx must be within the table's {table.rows} rows")
        self.padding_idx = padding_idx

    def forward(self, input):
        return _Gather.apply(self._anchor, _ids_tensor(input), self)


class _Bag(torch.autograd.Function):
    @staticmethod
    def forward(ctx, anchor, psw, ids, flat, code, csr, module):
        ctx.module, ctx.flat, ctx.csr = module, flat, csr
        weights = None if psw is None else _kernels.f32_arg(psw.detach().numpy().reshape(-1), flat.shape,
                                                            "per_sample_weights")
        ctx.save_for_backward(ids, psw)
        t = module.table
        live = t.store._live()  # noqa: F841 (keeps the mapping for the call)
        # offsets were checked by _csr: straight to the kernel
        return torch.from_numpy(_kernels.bag_csr(t._mref, t._label, t.rows, t.dim, ids.numpy(), flat, code, csr,
                                                 module._mode_code, weights, None, None))

    @staticmethod
    def backward(ctx, grad):
        module, flat, csr = ctx.module, ctx.flat, ctx.csr
        psw = ctx.saved_tensors[1]
        weights = None if psw is None else np.ascontiguousarray(psw.detach().numpy(), np.float32).reshape(-1)
        g = np.ascontiguousarray(grad.detach().numpy(), dtype=np.float32)
        lens = np.diff(csr)
        want_psw = ctx.needs_input_grad[1]
        if module.mode == "max":
            rows, psw_grad = _max_backward(module.table, flat, csr, lens, g, weights, want_psw)
        else:
            if module.mode == "mean":
                # each row of a bag gets the bag's gradient divided by its length, as torch computes it
                g = g / np.maximum(lens, 1).astype(np.float32)[:, None]
            g_rows = np.repeat(g, lens, axis=0)  # position i gets its bag's gradient
            rows = g_rows if weights is None else g_rows * weights[:, None]
            psw_grad = None
            if want_psw:
                looked_up = module.table.lookup(flat)
                psw_grad = np.einsum("ij,ij->i", looked_up, g_rows)
        module._record(flat, rows)
        if psw_grad is not None:
            psw_grad = torch.from_numpy(psw_grad.astype(np.float32)).reshape(psw.shape)
        return None, psw_grad, None, None, None, None, None


def _max_backward(table, flat, csr, lens, g, weights, want_psw):
    """Max mode: for each bag and column, the gradient goes to the position that holds the maximum (the first of
    equal ones, as torch), times its weight. Returns (gradient rows, gradient of the weights or None)."""
    n = flat.size
    rows = np.zeros((n, g.shape[1]), np.float32)
    full = lens > 0
    if not n:
        return rows, (np.zeros(0, np.float32) if want_psw else None)
    looked_up = table.lookup(flat)
    values = looked_up if weights is None else looked_up * weights[:, None]
    starts = csr[:-1][full]
    maxima = np.maximum.reduceat(values, starts, axis=0)
    is_max = values == np.repeat(maxima, lens[full], axis=0)
    count = np.cumsum(is_max, axis=0, dtype=np.int32)
    before = np.zeros_like(count[:1]).repeat(starts.size, axis=0)
    before[1:] = count[starts[1:] - 1]
    first = is_max & (count - np.repeat(before, lens[full], axis=0) == 1)
    g_rows = np.repeat(g[full], lens[full], axis=0)
    np.copyto(rows, g_rows if weights is None else g_rows * weights[:, None], where=first)
    psw_grad = (np.where(first, looked_up * g_rows, 0).sum(axis=1) if want_psw else None)
    return rows, psw_grad


class EmbeddingBag(_Sparse):
    """torch.nn.EmbeddingBag over `table`: forward(input, offsets=None, per_sample_weights=None) with torch's
    conventions (2-D input: bags of equal length; 1-D input with offsets: each bag's start, and with
    include_last_offset one more entry, the end) gives float32 (bags, dim) reduced by `mode`, "sum", "mean" or
    "max"; an empty bag gives zeros. per_sample_weights multiply each row first, in every mode (torch takes them
    with "sum" only), and get a gradient when they require one. Backward hands each id's gradient row (the bag's
    gradient, divided by the bag's length for "mean", times the id's weight; for "max" only in the columns where
    the id holds the maximum) to the optimizer."""

    def __init__(self, table, mode="mean", include_last_offset=False):
        super().__init__(table)
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"mode must be 'sum', 'mean' or 'max', not {mode!r}")
        self.mode = mode
        self._mode_code = _kernels.bag_mode(mode)
        self.include_last_offset = bool(include_last_offset)

    def forward(self, input, offsets=None, per_sample_weights=None):
        ids = _ids_tensor(input)
        flat, code = _kernels.ids_arg(ids.numpy())
        flat, csr = _csr(flat, offsets, self.include_last_offset)
        if per_sample_weights is not None:
            if not isinstance(per_sample_weights, torch.Tensor):
                per_sample_weights = torch.as_tensor(np.asarray(per_sample_weights, np.float32))
            if per_sample_weights.shape != ids.shape:
                raise ValueError(f"per_sample_weights has shape {tuple(per_sample_weights.shape)}; the input "
                                 f"{tuple(ids.shape)}")
        return _Bag.apply(self._anchor, per_sample_weights, ids, flat, code, csr, self)

    def extra_repr(self):
        return super().extra_repr() + f", mode={self.mode!r}"


def _csr(ids, offsets, include_last_offset):
    """(1-D ids, CSR offsets with one entry more than bags) from torch's forms."""
    if offsets is None:
        if ids.ndim != 2:
            raise ValueError(f"input without offsets must be 2-D (bags, ids per bag), not {ids.ndim}-D")
        if include_last_offset:
            # torch then takes the offsets of the equal bags as including the last one, and drops a bag
            raise ValueError("include_last_offset needs offsets and a 1-D input")
        b, n = ids.shape
        return ids.reshape(-1), np.arange(b + 1, dtype=np.int64) * n
    if ids.ndim != 1:
        raise ValueError(f"input with offsets must be 1-D, not {ids.ndim}-D")
    offsets = offsets.numpy() if isinstance(offsets, torch.Tensor) else np.asarray(offsets)
    return _kernels.bag_offsets(ids, offsets, include_last_offset)


def _modules(modules):
    """The embstore.torch layers in `modules` (a module or an iterable of modules; nested ones are found), each
    once, in order."""
    if isinstance(modules, torch.nn.Module):
        modules = [modules]
    found, seen = [], set()
    for top in modules:
        if isinstance(top, torch.Tensor):
            raise TypeError("embstore.torch optimizers take modules (the embstore.torch layers, or a model holding "
                            "them), not tensors: the tables are not torch parameters")
        if not isinstance(top, torch.nn.Module):
            raise TypeError(f"expected torch modules, not {type(top).__name__}")
        for m in top.modules():
            if isinstance(m, _Sparse) and id(m) not in seen:
                seen.add(id(m))
                found.append(m)
    if not found:
        raise ValueError("no embstore.torch.Embedding or EmbeddingBag among the modules given")
    return found


def _trainable(table):
    """Refuses, before any step, a table the optimizer steps would refuse."""
    if not table.store.writable:
        raise Error(STATUS_READ_ONLY, f"table {table.name!r}",
                    f"open {table.store.path!r} with writable=True to train it")
    if table.dtype == "int8":
        raise Error(STATUS_BAD_DTYPE, f"table {table.name!r}",
                    "int8 tables cannot be trained (requantising a row on every step would lose the update)")


class _SparseOptimizer(torch.optim.Optimizer):
    """A torch.optim.Optimizer over the layers' tables. Its param_groups hold one group (the layers' internal
    anchors, and the hyper-parameters), so learning-rate schedulers work on it as on any torch optimizer; its
    state lives in the store, not in state_dict()."""

    def __init__(self, modules, defaults):
        layers = _modules(modules)
        for m in layers:
            _trainable(m.table)
        super().__init__([m._anchor for m in layers], defaults)
        self._layers = layers
        self._layer_of = {id(m._anchor): m for m in layers}

    def zero_grad(self, set_to_none=True):
        """Drops the gradients recorded since the last step."""
        for m in self._layers:
            m._pending.clear()

    @torch.no_grad()
    def step(self, closure=None):
        """Applies the gradients recorded by the backward passes since the last step (all of a table's at once,
        so that an id seen several times, in one batch or in several backward passes, is updated once with the sum
        of its gradients) to the mapped rows, marks them for the next store.sync(), and clears them."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            by_table = {}
            for p in group["params"]:
                m = self._layer_of[id(p)]
                key = (id(m.table.store), m.table.index)
                by_table.setdefault(key, (m.table, []))[1].extend(m._take_gradients())
            for table, records in by_table.values():
                if not records:
                    continue
                if len(records) == 1:
                    ids, rows = records[0]
                else:
                    ids = np.concatenate([r[0] for r in records])
                    rows = np.concatenate([r[1] for r in records])
                self._update(table, ids, rows, group)
        return loss


def _check_hyper(lr, eps=0.0, weight_decay=0.0):
    if not lr >= 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not eps >= 0.0:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not weight_decay >= 0.0:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class SGD(_SparseOptimizer):
    """Sparse SGD on the tables of the embstore.torch layers in `modules` (a layer, a model holding layers, or an
    iterable of them): w = w - lr * g, g the sum of an id's recorded gradient rows (embstore_table_sgd_update).
    The stores must be open writable; f32, f16 and bf16 tables (int8 is refused)."""

    def __init__(self, modules, lr):
        _check_hyper(lr)
        super().__init__(modules, {"lr": lr})

    def _update(self, table, ids, rows, group):
        table.sgd_update(ids, rows, group["lr"])


class RowWiseAdagrad(_SparseOptimizer):
    """Row-wise Adagrad (FBGEMM's rowwise_adagrad) on the tables of the embstore.torch layers in `modules`: per
    row one state value s (kept in the table NAME.adagrad_state of the same store, which
    embstore.create(..., adagrad_state=True) and `embstore create --adagrad-state` write): for each id, g the sum
    of its gradient rows plus weight_decay * w, s += mean(g * g), w -= lr / (sqrt(s) + eps) * g
    (embstore_table_rowwise_adagrad_update). Defaults: lr 0.01 (torch.optim.Adagrad's and FBGEMM's), eps 1e-10
    (torch.optim.Adagrad's; FBGEMM's SplitTableBatchedEmbeddingBagsCodegen uses 1e-8)."""

    def __init__(self, modules, lr=0.01, eps=1e-10, weight_decay=0.0):
        _check_hyper(lr, eps, weight_decay)
        super().__init__(modules, {"lr": lr, "eps": eps, "weight_decay": weight_decay})
        self._states = {}
        for m in self._layers:
            self._states[(id(m.table.store), m.table.index)] = _state_table(m.table)

    def _update(self, table, ids, rows, group):
        state = self._states[(id(table.store), table.index)]
        table.rowwise_adagrad_update(state, ids, rows, group["lr"], group["eps"], group["weight_decay"])


def _state_table(table):
    store, name = table.store, table.name + STATE_SUFFIX
    if name not in store:
        raise ValueError(f"table {table.name!r} has no row-wise Adagrad state: {store.path!r} has no table {name!r}. "
                         f"Make the store with embstore.create(..., adagrad_state=True) or `embstore create "
                         f"--adagrad-state`, or add a {table.rows} x 1 f32 table of zeros named {name!r}")
    state = store[name]
    if state.rows != table.rows or state.dim != 1 or state.dtype != "f32":
        raise ValueError(f"table {name!r} is {state.rows} x {state.dim} {state.dtype}; the row-wise Adagrad state "
                         f"of {table.name!r} must be {table.rows} x 1 f32")
    return state
