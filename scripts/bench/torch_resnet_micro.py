#!/usr/bin/python3
"""The PyTorch reference for `npm run bench:train -- --only finetune-resnet`: cimResnetMicro's
classifier (torchvision-style BasicBlock [1, 1, 1, 1], widths 16-128, cifar stem: 3x3/1 conv, no
max pool), AdamW (betas 0.9/0.999, weight decay 0.05 on conv and linear weights), label smoothing
0.1, batch 128, 32 px, 2 threads, on random images and labels (the step's cost does not depend on
the values). Prints one JSON line per mode, each the median of per-step times with min and max,
the shape of bench:train's lines:

    /usr/bin/python3 scripts/bench/torch_resnet_micro.py [--steps 20] [--warmup 3] [--threads 2] [--kernels]

Modes: `finetune` (train-mode forward, backward, AdamW), `features` (eval-mode forward under
no_grad, as probe and k-NN use it), `eval-clean` (eval-mode forward and loss), `pgd-step` (one PGD
step: forward, backward to the image). `--kernels` also times each convolution shape alone
(forward, grad of input, grad of weight), the per-kernel table of docs/benchmarks.md.

Debian's python3-torch (apt-get install -y python3-torch: torch 1.13, oneDNN 2.6 convolutions);
run it with /usr/bin/python3, which sees the Debian package.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class ResNetMicro(nn.Module):
    """resnetMicro of libs/cim resnet/config.ts: 307,536 backbone parameters + a linear head."""

    def __init__(self, num_classes=10, widths=(16, 32, 64, 128), strides=(1, 2, 2, 2)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for w, s in zip(widths, strides):
            layers.append(BasicBlock(cin, w, s))
            cin = w
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(cin, num_classes)

    def features(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        return self.layers(x).mean((2, 3))

    def forward(self, x):
        return self.head(self.features(x))


def stats(xs):
    return {'secondsPerStep': round(statistics.median(xs), 4), 'minSecondsPerStep': round(min(xs), 4), 'maxSecondsPerStep': round(max(xs), 4)}


def timed(f, steps, warmup):
    for _ in range(warmup):
        f()
    out = []
    for _ in range(steps):
        t0 = time.perf_counter()
        f()
        out.append(time.perf_counter() - t0)
    return out


def bench_classifier(model, opt, x, y, line, steps, warmup):
    """Times the fine-tuning step (AdamW, label smoothing 0.1) and feature extraction (eval, no grad) of a
    classifier with a `features` method; `line(mode, times)` prints each. Shared with torch_vit_micro.py."""

    def train_step():
        model.train()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        loss.backward()
        opt.step()
        return loss.item()

    line('finetune', timed(train_step, steps, warmup))

    def features():
        model.eval()
        with torch.no_grad():
            return model.features(x).sum().item()

    line('features', timed(features, steps, warmup))


def bench_args(doc, extra=lambda ap: None):
    """The flags every PyTorch bench script takes (steps, warm-up, threads, batch), parsed; sets the
    threads and seed 0. `extra(ap)` adds a script's own flags."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--steps', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--batch-size', type=int, default=128)
    extra(ap)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    return a


def main():
    a = bench_args(__doc__, lambda ap: ap.add_argument('--kernels', action='store_true', help='also time each convolution shape alone'))
    B = a.batch_size
    model = ResNetMicro()
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.05}, {'params': no_decay, 'weight_decay': 0.0}], lr=1e-3, betas=(0.9, 0.999))
    x = torch.randn(B, 3, 32, 32)
    y = torch.randint(0, 10, (B,))
    common = {'bench': 'train', 'backend': 'pytorch', 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'batch': B}

    def line(mode, times, **extra):
        s = stats(times)
        print(json.dumps({**common, 'preset': 'cimResnetMicro', 'mode': mode, 'steps': len(times), **s, 'imagesPerSec': round(B / s['secondsPerStep'], 1), **extra}), flush=True)

    bench_classifier(model, opt, x, y, line, a.steps, a.warmup)

    def eval_clean():
        model.eval()
        with torch.no_grad():
            return F.cross_entropy(model(x), y).item()

    line('eval-clean', timed(eval_clean, a.steps, a.warmup))

    def pgd_step():
        model.eval()
        xa = x.clone().requires_grad_(True)
        loss = F.cross_entropy(model(xa), y)
        (g,) = torch.autograd.grad(loss, xa)
        return (xa + (2 / 255) * g.sign()).sum().item()

    line('pgd-step', timed(pgd_step, a.steps, a.warmup))

    if a.kernels:
        # (N, C, side, O, k, stride) of every convolution in the network
        shapes = [(B, 3, 32, 16, 3, 1), (B, 16, 32, 16, 3, 1), (B, 16, 32, 32, 3, 2), (B, 32, 16, 32, 3, 1), (B, 16, 32, 32, 1, 2),
                  (B, 32, 16, 64, 3, 2), (B, 64, 8, 64, 3, 1), (B, 32, 16, 64, 1, 2), (B, 64, 8, 128, 3, 2), (B, 128, 4, 128, 3, 1),
                  (B, 64, 8, 128, 1, 2)]
        for n, c, side, o, k, s in shapes:
            conv = nn.Conv2d(c, o, k, s, k // 2, bias=False)
            xi = torch.randn(n, c, side, side, requires_grad=True)
            out = conv(xi)
            dy = torch.randn_like(out)
            fwd = timed(lambda: conv(xi.detach()), 10, 2)
            dx = timed(lambda: torch.autograd.grad(conv(xi), xi, dy, retain_graph=False), 10, 2)
            dw = timed(lambda: torch.autograd.grad(conv(xi.detach()), conv.weight, dy), 10, 2)
            med = statistics.median
            print(json.dumps({'bench': 'conv', 'backend': 'pytorch', 'shape': [n, side, side, c], 'filter': [k, k, c, o], 'stride': s,
                              'forwardMs': round(med(fwd) * 1e3, 2), 'forwardAndDxMs': round(med(dx) * 1e3, 2),
                              'forwardAndDwMs': round(med(dw) * 1e3, 2)}), flush=True)


if __name__ == '__main__':
    main()
