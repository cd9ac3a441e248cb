"""The chunked full-softmax loss is the full softmax: the same value and the same gradients
as ``F.cross_entropy`` on the whole logits matrix, whatever the chunk size."""

import pytest

torch = pytest.importorskip("torch")

from shelfwise.models.seq_encoders import _ChunkedSoftmaxCE, softmax_cross_entropy  # noqa: E402


def _problem(dtype, n_rows=37, n_items=50, dim=8):
    g = torch.Generator().manual_seed(0)
    h = torch.randn(n_rows, dim, generator=g, dtype=dtype)
    table = torch.randn(n_items, dim, generator=g, dtype=dtype)
    target = torch.randint(0, n_items, (n_rows,), generator=g)
    target[:5] = 3  # repeated targets: their gradient rows must add up
    return h, table, target


def _loss_and_grads(fn, h, table, target):
    h, table = h.clone().requires_grad_(), table.clone().requires_grad_()
    loss = fn(h, table, target)
    (2.5 * loss).backward()  # an upstream gradient other than 1
    return loss.detach(), h.grad, table.grad


def _full(h, table, target):
    return torch.nn.functional.cross_entropy(h @ table.T, target)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("chunk", [1, 7, 16, 49, 50, 64])  # 7 and 16 do not divide 50 items
def test_chunked_loss_and_gradients_equal_full_cross_entropy(dtype, chunk):
    problem = _problem(dtype)
    want = _loss_and_grads(_full, *problem)
    got = _loss_and_grads(lambda h, t, y: _ChunkedSoftmaxCE.apply(h, t, y, chunk), *problem)
    tol = {"rtol": 1e-10, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-6}
    for a, b in zip(got, want, strict=True):
        assert torch.allclose(a, b, **tol)


def test_the_memory_budget_picks_chunks_and_the_answer_does_not_change():
    problem = _problem(torch.float64)
    want = _loss_and_grads(_full, *problem)
    for cells in (37 * 50, 37 * 3, 100, 1):  # one chunk (plain path), 3 items, 2 items, 1 item
        got = _loss_and_grads(lambda h, t, y, c=cells: softmax_cross_entropy(h, t, y, c), *problem)
        for a, b in zip(got, want, strict=True):
            assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


def test_large_logits_do_not_overflow():
    # scores in the thousands: a naive exp() overflows, the streaming log-sum-exp does not
    h, table, target = _problem(torch.float32)
    h = h * 300.0
    want = _loss_and_grads(_full, h, table, target)
    got = _loss_and_grads(lambda a, b, c: _ChunkedSoftmaxCE.apply(a, b, c, 7), h, table, target)
    assert all(torch.isfinite(g).all() for g in got)
    for a, b in zip(got, want, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-3)


def test_bfloat16_products_keep_the_loss_and_gradients_within_a_percent():
    # the training path's products (LOGITS_DTYPE, bfloat16 on CPUs that multiply it natively)
    # round each logit to 8 bits of mantissa; sums stay in float32, so the loss and the
    # gradients stay close to the float32 full softmax
    problem = _problem(torch.float32, n_rows=64, n_items=300, dim=16)
    want = _loss_and_grads(_full, *problem)
    got = _loss_and_grads(
        lambda h, t, y: _ChunkedSoftmaxCE.apply(h, t, y, 64, torch.bfloat16), *problem)
    for a, b in zip(got, want, strict=True):
        assert torch.linalg.norm(a - b) <= 0.01 * torch.linalg.norm(b)
    auto = _loss_and_grads(lambda h, t, y: softmax_cross_entropy(h, t, y, 64 * 50), *problem)
    for a, b in zip(auto, want, strict=True):
        assert torch.linalg.norm(a - b) <= 0.01 * torch.linalg.norm(b)


def test_more_rows_than_one_block_and_padding_give_the_same_answer():
    from shelfwise.models.seq_encoders import ROW_BLOCK, ROW_PAD

    n_rows = ROW_BLOCK + ROW_PAD + 5  # two row blocks, the second one padded
    problem = _problem(torch.float64, n_rows=n_rows)
    want = _loss_and_grads(_full, *problem)
    got = _loss_and_grads(lambda h, t, y: _ChunkedSoftmaxCE.apply(h, t, y, 7), *problem)
    for a, b in zip(got, want, strict=True):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)
