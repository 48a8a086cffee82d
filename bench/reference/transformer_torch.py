"""PyTorch side of bench/transformer: the workload of `fugato-nn`'s `transformer_bench`.

A decoder-only Transformer of 6 pre-norm blocks, width 256, 8 heads, feed-forward 1024 (GELU),
dropout 0.1, Music Transformer's relative attention (a learned embedding per head for each
distance up to 512, the relative scores by skewing, passed with the causal mask to
torch.nn.functional.scaled_dot_product_attention as its float mask), the REMI vocabulary.
Training: tokens/s of Adam steps on batches of 8 windows of 512 (median over RUNS runs of
STEPS steps after a warm-up). Sampling: ms per token, batch 1, with a key-value cache, 512
tokens drawn from the softmax and fed back.

Prints one JSON object per line: {"workload", "kind", "value", "unit", "runs"}.
"""

import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)

VOCAB = int(sys.argv[3]) if len(sys.argv) > 3 else 577
WIDTH, LAYERS, HEADS, FF, DIST, BATCH, WINDOW, SAMPLED = 256, 6, 8, 1024, 512, 8, 512, 512
STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3


def emit(workload, kind, values, unit):
    value = statistics.median(values)
    print(json.dumps({"workload": workload, "kind": kind, "value": value, "unit": unit, "runs": values}), flush=True)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1, self.norm2 = torch.nn.LayerNorm(WIDTH), torch.nn.LayerNorm(WIDTH)
        self.qkv, self.out = torch.nn.Linear(WIDTH, 3 * WIDTH), torch.nn.Linear(WIDTH, WIDTH)
        self.ff_in, self.ff_out = torch.nn.Linear(WIDTH, FF), torch.nn.Linear(FF, WIDTH)
        self.rel = torch.nn.Parameter(torch.randn(HEADS, DIST, WIDTH // HEADS) * 0.02)
        self.drop = torch.nn.Dropout(0.1)

    def split(self, x):
        b, t, _ = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(WIDTH, 2)
        return [y.view(b, t, HEADS, WIDTH // HEADS).transpose(1, 2) for y in (q, k, v)]

    def forward(self, x):
        b, t, _ = x.shape
        q, k, v = self.split(x)
        rows = torch.arange(t - 1, -1, -1).clamp(max=DIST - 1)
        qe = q @ self.rel[:, rows].transpose(1, 2)  # [b, h, t, t]
        rel = F.pad(qe, (1, 0)).reshape(b, HEADS, t + 1, t)[:, :, 1:]
        causal = torch.full((t, t), float("-inf")).triu(1)
        mask = rel / math.sqrt(WIDTH // HEADS) + causal
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.drop(self.out(a.transpose(1, 2).reshape(b, t, WIDTH)))
        return x + self.drop(self.ff_out(F.gelu(self.ff_in(self.norm2(x)))))

    def step(self, x, cache):
        """x [1, 1, width]; cache: this block's keys and values so far."""
        q, k, v = self.split(x)
        cache["k"] = k if cache.get("k") is None else torch.cat([cache["k"], k], 2)
        cache["v"] = v if cache.get("v") is None else torch.cat([cache["v"], v], 2)
        n = cache["k"].shape[2]
        rows = torch.arange(n - 1, -1, -1).clamp(max=DIST - 1)
        rel = (q @ self.rel[:, rows].transpose(1, 2)) / math.sqrt(WIDTH // HEADS)  # [1, h, 1, n]
        a = F.scaled_dot_product_attention(q, cache["k"], cache["v"], attn_mask=rel)
        x = x + self.out(a.transpose(1, 2).reshape(1, 1, WIDTH))
        return x + self.ff_out(F.gelu(self.ff_in(self.norm2(x))))


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, WIDTH)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(LAYERS))
        self.norm = torch.nn.LayerNorm(WIDTH)
        self.head = torch.nn.Linear(WIDTH, VOCAB)
        self.drop = torch.nn.Dropout(0.1)

    def forward(self, ids):
        x = self.drop(self.embed(ids))
        for b in self.blocks:
            x = b(x)
        return self.head(self.norm(x))

    def step(self, token, caches):
        x = self.embed(token.view(1, 1))
        for b, c in zip(self.blocks, caches):
            x = b.step(x, c)
        return self.head(self.norm(x))[0, 0]


def train():
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=3e-4)
    data = [torch.randint(0, VOCAB, (BATCH, WINDOW + 1)) for _ in range(2)]

    def steps(n):
        for i in range(n):
            d = data[i % 2]
            loss = F.cross_entropy(net(d[:, :-1]).reshape(-1, VOCAB), d[:, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            loss.item()

    steps(1)
    values = []
    for _ in range(RUNS):
        start = time.perf_counter()
        steps(STEPS)
        values.append(BATCH * WINDOW * STEPS / (time.perf_counter() - start))
    emit("train transformer 6x256", "train", values, "tokens/s")


def sample():
    net = Net().eval()
    values = []
    with torch.no_grad():
        for run in range(RUNS + 1):
            g = torch.Generator().manual_seed(run)
            caches = [{} for _ in range(LAYERS)]
            token = torch.tensor(0)
            start = time.perf_counter()
            for _ in range(SAMPLED):
                p = torch.softmax(net.step(token, caches), 0)
                token = torch.multinomial(p, 1, generator=g)[0]
            ms = (time.perf_counter() - start) * 1000 / SAMPLED
            if run > 0:
                values.append(ms)
    emit("sample transformer 6x256", "sample", values, "ms/token")


train()
sample()
