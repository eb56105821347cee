"""The PyTorch peer of bench/train_bench.ts: the same models and shapes, written the way a PyTorch engineer would
write them for speed, timed the same way. Never imported by the tests or the main job; bench:train runs it when a
PyTorch is installed (scripts/pyenv.sh bench, or Debian's python3-torch).

Shapes (train_bench.ts's SHAPE): 30 dense features, user (100k) and item (50k) 16-d embeddings. Embedding tables
are sparse (only the looked-up rows get gradients) and updated by SparseAdam; every dense weight by Adam
with its fused kernel (fused=True: one kernel for all dense params, on the CPU as on CUDA).
  dnn      [dense, user, item] -> 128 -> 64 -> 1, ReLU
  mmoe     8 experts x 64 (one matmul for all experts, one for all gates), 5 towers 64-32-1 as batched matmuls,
           a task mask per row (each row belongs to one scene)
  din-L20  DIN: target attention over the last L clicks (item + scene embeddings), activation unit 36 with Dice
  din-L50  on the real behaviours only (packed with nonzero, scattered back), MLP 128-64 with Dice
Ids follow the same Zipf-like law; each row's sequence length is uniform in 0..L. The loss is read every 50 steps.

usage: torch_peer.py --model dnn|mmoe|din-L20|din-L50 --batch 1024 --seconds 4 --threads 2 [--device cpu|cuda]
prints one JSON line: {"model", "batch", "device", "samples_per_s", "steps", "torch"}
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DENSE, USERS, ITEMS, EMB, SCENES = 30, 100_000, 50_000, 16, 5


class Dice(nn.Module):
    """Dice over rows: p = sigmoid of x standardised with the batch's statistics; f = p*x + (1 - p)*alpha*x."""

    def __init__(self, d, momentum=0.99):
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(d))
        self.register_buffer("running_mean", torch.zeros(d))
        self.register_buffer("running_var", torch.ones(d))
        self.momentum = momentum

    def forward(self, x):
        mean = x.mean(0)
        c = x - mean
        var = (c * c).mean(0)
        with torch.no_grad():
            self.running_mean.mul_(self.momentum).add_(mean, alpha=1 - self.momentum)
            self.running_var.mul_(self.momentum).add_(var, alpha=1 - self.momentum)
        p = torch.sigmoid(c * torch.rsqrt(var + 1e-8))
        return x * (self.alpha + p * (1 - self.alpha))


class Inputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.user = nn.Embedding(USERS, EMB, sparse=True)
        self.item = nn.Embedding(ITEMS, EMB, sparse=True)

    def forward(self, b):
        return b["dense"], self.user(b["user_id"]), self.item(b["item_id"])


class Dnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.inputs = Inputs()
        self.mlp = nn.Sequential(nn.Linear(DENSE + 2 * EMB, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                                 nn.Linear(64, 1))

    def forward(self, b):
        return self.mlp(torch.cat(self.inputs(b), 1)).squeeze(1)


class Mmoe(nn.Module):
    def __init__(self, experts=8, hidden=64, tasks=5, tower=(64, 32)):
        super().__init__()
        self.inputs = Inputs()
        self.K, self.H, self.T = experts, hidden, tasks
        x = DENSE + 2 * EMB
        self.experts = nn.Linear(x, experts * hidden)
        self.gates = nn.Linear(x, tasks * experts)
        sizes = [hidden, *tower, 1]
        self.tw = nn.ParameterList([nn.Parameter(torch.randn(tasks, a, c) * (2 / a) ** 0.5)
                                    for a, c in zip(sizes, sizes[1:])])
        self.tb = nn.ParameterList([nn.Parameter(torch.zeros(tasks, 1, c)) for c in sizes[1:]])

    def forward(self, b):
        x = torch.cat(self.inputs(b), 1)
        B = x.shape[0]
        e = F.relu(self.experts(x)).view(B, self.K, self.H)
        g = torch.softmax(self.gates(x).view(B, self.T, self.K), -1)
        h = torch.bmm(g, e).transpose(0, 1)  # [T, B, H]: every tower at once
        for i, (w, bias) in enumerate(zip(self.tw, self.tb)):
            h = torch.baddbmm(bias, h, w)
            if i < len(self.tw) - 1:
                h = F.relu(h)
        return h.squeeze(2).t()  # [B, T]


class Din(nn.Module):
    def __init__(self, att=36, hidden=(128, 64)):
        super().__init__()
        self.inputs = Inputs()
        self.scene = nn.Embedding(SCENES, EMB)
        self.att = nn.Linear(4 * EMB, att)  # on [q, k, q - k, q * k], applied as q(W0+W2) + [k, q*k][W1-W2; W3]
        self.att_dice = Dice(att)
        self.att_out = nn.Linear(att, 1)
        x = DENSE + 3 * EMB
        self.l1, self.d1 = nn.Linear(x, hidden[0]), Dice(hidden[0])
        self.l2, self.d2 = nn.Linear(hidden[0], hidden[1]), Dice(hidden[1])
        self.out = nn.Linear(hidden[1], 1)

    def forward(self, b):
        dense, user, item = self.inputs(b)
        rows, pos = b["hist_mask"].nonzero(as_tuple=True)  # the real behaviours only
        k = self.inputs.item(b["hist_item"][rows, pos]) + self.scene(b["hist_scene"][rows, pos])  # [P, d]
        w0, w1, w2, w3 = self.att.weight.t().split(EMB, 0)
        per_row = item @ (w0 + w2) + self.att.bias  # [B, att]
        h = torch.cat([k, item[rows] * k], 1) @ torch.cat([w1 - w2, w3], 0) + per_row[rows]
        score = self.att_out(self.att_dice(h)).squeeze(1)  # [P]
        interest = torch.zeros_like(item).index_add_(0, rows, score.unsqueeze(1) * k)
        x = torch.cat([dense, user, item, interest], 1)
        return self.out(self.d2(self.l2(self.d1(self.l1(x))))).squeeze(1)


def zipf(g, n, vocab):
    u = torch.rand(n, generator=g, dtype=torch.float64)
    return torch.clamp(torch.floor(vocab ** u - 1), max=vocab - 1).long()


def make_batch(g, rows, tasks, L):
    b = {
        "dense": torch.randn(rows, DENSE, generator=g),
        "user_id": zipf(g, rows, USERS),
        "item_id": zipf(g, rows, ITEMS),
        "label": (torch.rand(rows * tasks, generator=g) < 0.34).float().view(rows, tasks).squeeze(1),
    }
    if tasks > 1:
        b["mask"] = F.one_hot(torch.arange(rows) % tasks, tasks).float()
    if L:
        lengths = torch.randint(0, L + 1, (rows,), generator=g)
        mask = (torch.arange(L).unsqueeze(0) < lengths.unsqueeze(1)).float()
        b["hist_item"] = zipf(g, rows * L, ITEMS).view(rows, L) * mask.long()
        b["hist_scene"] = torch.randint(0, SCENES, (rows, L), generator=g) * mask.long()
        b["hist_mask"] = mask
    return b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    L = int(a.model.split("-L")[1]) if a.model.startswith("din-L") else 0
    model, tasks = {"dnn": (Dnn, 1), "mmoe": (Mmoe, 5)}.get(a.model, (Din, 1))
    net = model().to(a.device)
    sparse = [p for n, p in net.named_parameters() if n.startswith("inputs.")]
    dense = [p for n, p in net.named_parameters() if not n.startswith("inputs.")]
    opt_sparse, opt_dense = torch.optim.SparseAdam(sparse, lr=1e-3), torch.optim.Adam(dense, lr=1e-3, fused=True)
    g = torch.Generator().manual_seed(a.batch)
    data = [{k: v.to(a.device) for k, v in make_batch(g, a.batch, tasks, L).items()} for _ in range(8)]

    def step(b, read):
        logits = net(b)
        if tasks > 1:
            loss = (F.binary_cross_entropy_with_logits(logits, b["label"], reduction="none") * b["mask"]).sum() \
                / b["mask"].sum()
        else:
            loss = F.binary_cross_entropy_with_logits(logits, b["label"])
        opt_sparse.zero_grad(set_to_none=True)
        opt_dense.zero_grad(set_to_none=True)
        loss.backward()
        opt_sparse.step()
        opt_dense.step()
        return loss.item() if read else None

    for i in range(3):
        step(data[i % 8], True)  # warm-up
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < a.seconds:
        step(data[steps % 8], steps % 50 == 49)
        steps += 1
    step(data[0], True)  # waits for queued device work
    steps += 1
    secs = time.perf_counter() - t0
    print(json.dumps({"model": a.model, "batch": a.batch, "device": a.device, "samples_per_s": steps * a.batch / secs,
                      "steps": steps, "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
