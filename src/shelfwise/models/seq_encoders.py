"""Sequence encoders for ``shelfwise.models.sequential`` (PyTorch, CPU).

Every encoder maps embedded sequences (B, L, d) with a padding mask (B, L) to hidden states
(B, L, d). Sequences are left-padded, so position L-1 is the most recent event.

- ``sasrec``: causal self-attention (Kang & McAuley 2018);
- ``bert4rec``: bidirectional self-attention, trained by masked-item prediction (Sun 2019);
- ``gru4rec``: a GRU (Hidasi et al. 2016);
- ``bilstm_transformer``: the seed study's "deep bidirectional Transformer": a BiLSTM front
  end feeding bidirectional Transformer layers, trained like BERT4Rec.
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: logit cells (positions x items) one chunk of the softmax may hold: 16 MB in float32.
#: Small chunks stay in cache; on CPU they were no slower than one full logits matrix.
CE_CHUNK_CELLS = 2 ** 22
CAUSAL = {"sasrec": True, "gru4rec": True, "bert4rec": False, "bilstm_transformer": False}
N_GAP_BUCKETS = 16


def gap_buckets(gaps_seconds: torch.Tensor) -> torch.Tensor:
    """Log-spaced buckets of the time since the previous event: 0 for none/padding, then
    1..15 covering about a second to a year."""
    b = torch.clamp(torch.log2(gaps_seconds.clamp(min=1.0)).floor().long() // 2 + 1, 1,
                    N_GAP_BUCKETS - 1)
    return torch.where(gaps_seconds > 0, b, torch.zeros_like(b))


def _bf16_matmul_is_native() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (oneDNN: AVX-512 or AMX);
    elsewhere bfloat16 is emulated and slower than float32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


#: dtype of the chunked softmax's logits products. bfloat16 cut the loss and gradients over
#: 105,849 items for 3,000 positions from 2.25 s to 1.0 s on one core (AMX) and changed the
#: gradients by about 1e-4 relative; log-sum-exp, softmax and gradients add up in float32.
LOGITS_DTYPE = torch.bfloat16 if _bf16_matmul_is_native() else torch.float32


#: rows (positions) per product, and the multiple the rows are padded to. With a fixed item
#: chunk, the products take a handful of shapes whatever a batch's number of positions:
#: oneDNN caches one bfloat16 primitive per shape, and a new shape every batch grew the
#: 106k-item union's training to 3.3 GB.
ROW_BLOCK, ROW_PAD = 1024, 128


class _ChunkedSoftmaxCE(torch.autograd.Function):
    """Mean full-softmax cross-entropy of ``h @ table.T`` against ``target``, computed in
    tiles of ``ROW_BLOCK`` rows x ``chunk`` items: forward keeps a running log-sum-exp per
    row, backward recomputes each tile's softmax from it, so no (N, n_items) matrix is ever
    held. Rows are zero-padded to a multiple of ``ROW_PAD`` (padded rows add nothing to the
    table's gradient and are dropped). The tile products run in ``products`` (default: h's
    dtype); sums stay in h's dtype."""

    @staticmethod
    def forward(ctx, h, table, target, chunk, products=None):
        # h (N, d), table (n_items, d), target (N,) item rows of ``table``
        products = products or h.dtype
        n_rows = -(-h.shape[0] // ROW_PAD) * ROW_PAD
        hl = torch.zeros(n_rows, h.shape[1], dtype=products)
        hl[:h.shape[0]] = h.detach()
        tl = table.detach().to(products)
        lse = torch.zeros(n_rows, dtype=h.dtype)  # padded rows keep 0: finite, unused
        for r in range(0, h.shape[0], ROW_BLOCK):
            block = torch.full((min(ROW_BLOCK, n_rows - r),), -math.inf, dtype=h.dtype)
            for start in range(0, table.shape[0], chunk):
                logits = (hl[r:r + ROW_BLOCK] @ tl[start:start + chunk].T).to(h.dtype)
                block = torch.logaddexp(block, torch.logsumexp(logits, 1))
            lse[r:r + ROW_BLOCK] = block
        ctx.save_for_backward(h, table, target, lse, hl, tl)
        ctx.chunk = chunk
        return (lse[:h.shape[0]] - (h * table[target]).sum(1)).mean()

    @staticmethod
    def backward(ctx, grad):
        h, table, target, lse, hl, tl = ctx.saved_tensors
        scale = grad / h.shape[0]
        grad_h = torch.zeros(hl.shape, dtype=h.dtype)
        grad_table = torch.zeros_like(table)
        for r in range(0, h.shape[0], ROW_BLOCK):
            rows_h, rows_lse = hl[r:r + ROW_BLOCK], lse[r:r + ROW_BLOCK, None]
            for start in range(0, table.shape[0], ctx.chunk):
                items = tl[start:start + ctx.chunk]
                # (rows, chunk) softmax * dL/dloss, in h's dtype, then in the products' dtype
                p = (rows_h @ items.T).to(h.dtype).sub_(rows_lse).exp_().mul_(scale).to(hl.dtype)
                grad_h[r:r + ROW_BLOCK] += (p @ items).to(h.dtype)
                grad_table[start:start + ctx.chunk] += (p.T @ rows_h).to(h.dtype)
        grad_h = grad_h[:h.shape[0]] - scale * table[target]  # d(-target logit)/dh
        grad_table.index_add_(0, target, -scale * h)
        return grad_h, grad_table, None, None, None


def softmax_cross_entropy(h: torch.Tensor, table: torch.Tensor, target: torch.Tensor,
                          max_cells: int = CE_CHUNK_CELLS) -> torch.Tensor:
    """``F.cross_entropy(h @ table.T, target)`` (mean over the N rows) with at most about
    ``max_cells`` logits in memory at once. h: (N, d); table: (n_items, d); target: (N,).
    Chunked float32 products run in ``LOGITS_DTYPE``."""
    if h.shape[0] * table.shape[0] <= max_cells:
        return nn.functional.cross_entropy(h @ table.T, target)
    chunk = max(1, max_cells // ROW_BLOCK)
    products = LOGITS_DTYPE if h.dtype == torch.float32 else h.dtype
    return _ChunkedSoftmaxCE.apply(h, table, target, chunk, products)


class Embedder(nn.Module):
    """Item + position + behaviour type + time gap (+ mean of item attributes) embeddings.

    Item index 0 is padding and ``n_items + 1`` the mask token; the output item table
    (rows 1..n_items) is shared with the input (weight tying).
    """

    def __init__(self, n_items: int, dim: int, max_len: int, n_types: int, dropout: float,
                 attributes: torch.Tensor | None = None, n_attributes: int = 0):
        super().__init__()
        self.items = nn.Embedding(n_items + 2, dim, padding_idx=0)
        self.positions = nn.Embedding(max_len, dim)
        self.types = nn.Embedding(n_types + 1, dim, padding_idx=0)
        self.gaps = nn.Embedding(N_GAP_BUCKETS, dim, padding_idx=0)
        self.attr = None
        if attributes is not None and n_attributes:
            # attributes: (n_items + 2, A) attribute ids per item, 0 = none
            self.register_buffer("item_attributes", attributes, persistent=False)
            self.attr = nn.EmbeddingBag(n_attributes + 1, dim, mode="mean", padding_idx=0)
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)
        self.scale = math.sqrt(dim)
        nn.init.normal_(self.items.weight, std=dim ** -0.5)
        if self.attr is not None:
            # Attribute vectors start at the item vectors' scale: at PyTorch's default N(0, 1)
            # they are sqrt(dim) times larger, so items sharing one coarse category start out
            # (and, through the tied output table, are scored) almost alike.
            nn.init.normal_(self.attr.weight, std=dim ** -0.5)
        with torch.no_grad():
            self.items.weight[0].zero_()
            if self.attr is not None:
                self.attr.weight[0].zero_()

    def item_table(self) -> torch.Tensor:
        """(n_items + 2, d) item representations used for both input and output.

        Outside training (no grad) the table is kept until a weight changes (an optimiser
        step or ``load_state_dict`` bumps the tensors' version): summing the attribute bags
        over the catalogue is most of a served request's sequence-model time."""
        if self.attr is None:
            return self.items.weight
        if torch.is_grad_enabled():
            return self.items.weight + self.attr(self.item_attributes)
        key = (self.items.weight._version, self.attr.weight._version,
               self.items.weight.data_ptr(), self.attr.weight.data_ptr())
        cached = self.__dict__.get("_frozen_table")
        if cached is None or cached[0] != key:
            cached = (key, self.items.weight + self.attr(self.item_attributes))
            self.__dict__["_frozen_table"] = cached
        return cached[1]

    def forward(self, items, types, gaps) -> torch.Tensor:
        table = self.item_table()
        # positions count back from the latest event, so trimming leading padding columns
        # off a batch leaves every event's position unchanged
        length, max_len = items.shape[1], self.positions.num_embeddings
        pos = torch.arange(max_len - length, max_len, device=items.device)
        x = table[items] * self.scale + self.positions(pos)[None] + self.types(types)
        x = x + self.gaps(gap_buckets(gaps))
        return self.drop(self.norm(x))


class TransformerEncoder(nn.Module):
    def __init__(self, dim: int, layers: int, heads: int, dropout: float, causal: bool):
        super().__init__()
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=dim * 2, dropout=dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.net = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.causal = causal

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        batch, length = pad.shape
        # blocked[b, i, j]: query i may not see key j (padding, or the future if causal).
        blocked = pad[:, None, :].expand(batch, length, length).clone()
        if self.causal:
            blocked |= torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        # Every position may see itself: with left padding a padded query would otherwise see
        # nothing, its softmax would be NaN, and 0 * NaN leaks into real positions.
        blocked &= ~torch.eye(length, dtype=torch.bool, device=x.device)
        heads = self.net.layers[0].self_attn.num_heads
        h = self.net(x, mask=blocked.repeat_interleave(heads, dim=0))
        return self.norm(h)


class GRUEncoder(nn.Module):
    def __init__(self, dim: int, layers: int, dropout: float):
        super().__init__()
        self.gru = nn.GRU(dim, dim, num_layers=layers, batch_first=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        return self.norm(self.gru(x)[0])


class BiLSTMTransformerEncoder(nn.Module):
    def __init__(self, dim: int, layers: int, heads: int, dropout: float):
        super().__init__()
        self.lstm = nn.LSTM(dim, dim // 2, batch_first=True, bidirectional=True)
        self.transformer = TransformerEncoder(dim, layers, heads, dropout, causal=False)

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        return self.transformer(x + self.lstm(x)[0], pad)


def make_encoder(kind: str, dim: int, layers: int, heads: int, dropout: float) -> nn.Module:
    if kind in ("sasrec", "bert4rec"):
        return TransformerEncoder(dim, layers, heads, dropout, causal=CAUSAL[kind])
    if kind == "gru4rec":
        return GRUEncoder(dim, layers, dropout)
    if kind == "bilstm_transformer":
        return BiLSTMTransformerEncoder(dim, layers, heads, dropout)
    raise ValueError(f"Unknown encoder {kind!r}")


class SequenceNet(nn.Module):
    def __init__(self, kind: str, n_items: int, dim: int, max_len: int, layers: int, heads: int,
                 dropout: float, n_types: int, attributes=None, n_attributes: int = 0):
        super().__init__()
        self.embed = Embedder(n_items, dim, max_len, n_types, dropout, attributes, n_attributes)
        self.encoder = make_encoder(kind, dim, layers, heads, dropout)
        self.n_items = n_items

    def hidden(self, items, types, gaps) -> torch.Tensor:
        """(B, L, d) hidden states."""
        return self.encoder(self.embed(items, types, gaps), items == 0)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """Scores of every real item, (..., n_items); column j is item index j."""
        return h @ self.embed.item_table()[1:self.n_items + 1].T

    def forward(self, items, types, gaps, valid, target, negatives=None) -> torch.Tensor:
        """The training loss: mean cross-entropy of the next (or masked) item at the ``valid``
        positions (B, L) of (items, types, gaps) (B, L), against ``target`` (B, L) (item
        indices + 1), over the whole catalogue, or over the (n_negatives,) item indices
        ``negatives`` (a sampled softmax) when given. The loss is the forward pass so that
        ``DistributedDataParallel``, which averages gradients over the processes of the
        forward calls it wraps, sees the whole computation."""
        h = self.hidden(items, types, gaps)
        h, target = h[valid], target[valid] - 1  # (N, d), (N,)
        if len(target) == 0:
            return h.sum() * 0.0  # no position to learn from: zero gradients, same graph
        table = self.embed.item_table()[1:self.n_items + 1]  # (n_items, d)
        if negatives is None:
            return softmax_cross_entropy(h, table, target)
        pos = (h * table[target]).sum(-1, keepdim=True)
        neg = h @ table[negatives].T
        neg = neg.masked_fill(negatives[None, :] == target[:, None], float("-inf"))
        return nn.functional.cross_entropy(torch.cat([pos, neg], 1),
                                           torch.zeros(len(target), dtype=torch.long))
