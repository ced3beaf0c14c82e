#!/usr/bin/python3
"""The PyTorch reference for `npm run bench:train -- --only finetune-vit,features-vit`: the
cimVitMicroPatch4 classifier of libs/cim classifier/vit-classifier.ts (MAE's VisionTransformer with
global_pool=True): 32 px images, patch 4 (an 8x8 grid), 64 dims, depth 4, 4 heads, MLP ratio 4, cls
token, fixed sin-cos position embedding; the mean of the patch tokens -> LayerNorm fc_norm ->
linear head. AdamW (betas 0.9/0.999, weight decay 0.05 on >= 2-d weights, none on biases, norms
and the cls token), label smoothing 0.1, batch 128, no drop path, 2 threads, on random images and
labels. Prints one JSON line per mode, each the median of per-step times with min and max, the
shape of bench:train's lines:

    /usr/bin/python3 scripts/bench/torch_vit_micro.py [--steps 20] [--warmup 3] [--threads 2] [--batch-size 128]

Modes: `finetune` (train-mode forward, backward, AdamW) and `features` (the encoder's final norm,
mean patch token, under no_grad, as probe and k-NN use it).

Debian's python3-torch (apt-get install -y python3-torch: torch 1.13); run it with /usr/bin/python3.
Its matmuls go through the system BLAS: with --no-install-recommends that is the reference libblas3,
~7x slower here; install libopenblas0-pthread (python3-torch's recommended BLAS) for a fair figure.
"""
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_resnet_micro import bench_args, bench_classifier, stats


def sincos_pos_embed(dim, grid):
    """MAE's 2-D sin-cos embedding, [grid*grid, dim] (no cls row: the cls token gets zeros)."""
    def one_d(d, pos):
        omega = 1.0 / 10000 ** (torch.arange(d // 2, dtype=torch.float64) / (d / 2.0))
        out = pos.reshape(-1, 1).double() * omega.reshape(1, -1)
        return torch.cat([torch.sin(out), torch.cos(out)], 1)
    gh, gw = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing='ij')
    return torch.cat([one_d(dim // 2, gw), one_d(dim // 2, gh)], 1).float()


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, mlp_ratio * dim)
        self.fc2 = nn.Linear(mlp_ratio * dim, dim)

    def forward(self, x):
        n, t, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = ((q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5).softmax(-1)
        x = x + self.proj((a @ v).transpose(1, 2).reshape(n, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class VitMicro(nn.Module):
    def __init__(self, num_classes=10, img=32, patch=4, dim=64, depth=4, heads=4, mlp_ratio=4):
        super().__init__()
        g = img // patch
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.register_buffer('pos_embed', torch.cat([torch.zeros(1, dim), sincos_pos_embed(dim, g)], 0)[None])
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.fc_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)
        for p in self.norm.parameters():
            p.requires_grad_(False)  # kept, not trained (MAE's global-pool head does not use it)

    def blocks_out(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        for b in self.blocks:
            x = b(x)
        return x

    def features(self, x):
        return self.norm(self.blocks_out(x))[:, 1:].mean(1)

    def forward(self, x):
        return self.head(self.fc_norm(self.blocks_out(x)[:, 1:].mean(1)))


def main():
    a = bench_args(__doc__)
    B = a.batch_size
    model = VitMicro()
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in params if p.ndim > 1 and n != 'cls_token']
    no_decay = [p for n, p in params if not (p.ndim > 1 and n != 'cls_token')]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.05}, {'params': no_decay, 'weight_decay': 0.0}], lr=1e-3, betas=(0.9, 0.999))
    x = torch.randn(B, 3, 32, 32)
    y = torch.randint(0, 10, (B,))
    common = {'bench': 'train', 'backend': 'pytorch', 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'batch': B,
              'preset': 'cimVitMicroPatch4', 'params': sum(p.numel() for p in model.parameters())}

    def line(mode, times):
        s = stats(times)
        print(json.dumps({**common, 'mode': mode, 'steps': len(times), **s, 'imagesPerSec': round(B / s['secondsPerStep'], 1)}), flush=True)

    bench_classifier(model, opt, x, y, line, a.steps, a.warmup)

if __name__ == '__main__':
    main()
