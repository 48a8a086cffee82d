"""PyTorch side of bench/rnn: the same workloads as `fugato-nn`'s `rnn_bench` example.

Prints one JSON object per line: {"workload", "kind", "value", "unit", "runs"}.
Training: frames/s (batch x seq-len per step, median over RUNS runs of STEPS steps after a
warm-up). Sampling: ms per frame, batch 1, state carried, sigmoid head, Bernoulli sample
fed back. GEMM: GFLOP/s of one large sgemm.
"""

import json
import statistics
import sys
import time

import torch

torch.set_num_threads(2)
torch.manual_seed(0)

UNITS, BATCH, SEQ = 88, 32, 64
STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
ONLY = sys.argv[3] if len(sys.argv) > 3 else ""


def emit(workload, kind, values, unit):
    value = statistics.median(values)
    print(json.dumps({"workload": workload, "kind": kind, "value": value, "unit": unit, "runs": values}), flush=True)


class PeepholeLSTM(torch.nn.Module):
    """The paper's LSTM: i and f see c_{t-1}, o sees c_t (a hand-written cell: PyTorch has none)."""

    def __init__(self, d_in, h):
        super().__init__()
        self.h = h
        self.input = torch.nn.Linear(d_in, 4 * h)
        self.recurrent = torch.nn.Linear(h, 4 * h, bias=False)
        self.peep = torch.nn.Parameter(torch.empty(3, h).uniform_(-h**-0.5, h**-0.5))

    def forward(self, x):
        b, t, _ = x.shape
        gx = self.input(x)
        h = x.new_zeros(b, self.h)
        c = x.new_zeros(b, self.h)
        out = []
        for s in range(t):
            i, f, g, o = (gx[:, s] + self.recurrent(h)).chunk(4, 1)
            i = i + c * self.peep[0]
            f = f + c * self.peep[1]
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            o = o + c * self.peep[2]
            h = torch.sigmoid(o) * torch.tanh(c)
            out.append(h)
        return torch.stack(out, 1), None


class Net(torch.nn.Module):
    def __init__(self, cell, hidden, layers, dropout):
        super().__init__()
        if cell == "peephole":
            self.rnn = PeepholeLSTM(UNITS, hidden)
        else:
            make = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
            self.rnn = make(UNITS, hidden, num_layers=layers, dropout=dropout if layers > 1 else 0.0, batch_first=True)
        self.drop = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(hidden, UNITS)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(self.drop(out))


def frames(batch, seq):
    # Piano-roll-like input: about four notes of 88 on per frame.
    return (torch.rand(batch, seq + 1, UNITS) < 0.05).float()


def train(name, cell, hidden, layers=1, dropout=0.0):
    net = Net(cell, hidden, layers, dropout)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    data = [frames(BATCH, SEQ) for _ in range(8)]

    def step(i):
        roll = data[i % len(data)]
        opt.zero_grad()
        loss = loss_fn(net(roll[:, :-1]), roll[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()

    for i in range(5):
        step(i)
    values = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        for i in range(STEPS):
            step(i)
        values.append(BATCH * SEQ * STEPS / (time.perf_counter() - t0))
    emit(name, "train", values, "frames/s")


@torch.no_grad()
def sample(name, cell, hidden, n=1000):
    net = Net(cell, hidden, 1, 0.0)
    net.eval()
    values = []
    for run in range(RUNS + 1):
        torch.manual_seed(run)
        x = torch.zeros(1, 1, UNITS)
        state = None
        t0 = time.perf_counter()
        for _ in range(n):
            out, state = net.rnn(x, state)
            p = torch.sigmoid(net.head(out))
            x = torch.bernoulli(p)
        if run:
            values.append((time.perf_counter() - t0) * 1000 / n)
    emit(name, "sample", values, "ms/frame")


def gemm(n=2048):
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    values = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        for _ in range(10):
            a @ b
        values.append(2 * n**3 * 10 / (time.perf_counter() - t0) / 1e9)
    emit("sgemm 2048", "gemm", values, "GFLOP/s")


WORKLOADS = [
    ("sgemm 2048", gemm),
    ("train LSTM-256", lambda: train("train LSTM-256", "lstm", 256)),
    ("train GRU-256", lambda: train("train GRU-256", "gru", 256)),
    ("train RNN-256", lambda: train("train RNN-256", "rnn", 256)),
    ("train 3xLSTM-128 dropout 0.5", lambda: train("train 3xLSTM-128 dropout 0.5", "lstm", 128, 3, 0.5)),
    ("train peephole LSTM-256", lambda: train("train peephole LSTM-256", "peephole", 256)),
    ("sample LSTM-256", lambda: sample("sample LSTM-256", "lstm", 256)),
    ("sample GRU-256", lambda: sample("sample GRU-256", "gru", 256)),
]

for name, run in WORKLOADS:
    if ONLY in name:
        run()
