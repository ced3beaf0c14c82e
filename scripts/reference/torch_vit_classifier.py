"""A plain-PyTorch reference of libs/cim's ViT classifier (issue 26): timm's VisionTransformer with
global_pool='avg' (MAE's / the official CIM models_vit.VisionTransformer(global_pool=True)), written
out in torch.nn.functional because Debian ships python3-torch but not timm.

  patch_embed.proj  Conv2d(3, D, p, stride p)      cls_token, pos_embed (a fixed buffer)
  blocks.i          x + attn(norm1(x)); x + mlp(norm2(x))   LayerNorm eps 1e-6, exact GELU,
                    qkv Linear(D, 3D) split q|k|v then heads, logits scaled by head_dim^-0.5
  pool              mean of the patch tokens (cls excluded), then fc_norm (eps 1e-6), then head
  loss              cross-entropy, mean over the batch

Reads a JSON file {config, params: {name: {shape, data}}, images: {shape, data} (NHWC),
labels: [...]} with PyTorch names and layouts (VitClassifier.stateDict), and prints one JSON line:
{logits, loss, grads: {name: data}} for every parameter with requires_grad (all but norm.* and
pos_embed, as in the classifier). Float32, CPU, no dropout or drop path (eval-equivalent).
Used by libs/cim/src/classifier/vit-classifier-torch.test.ts; run with /usr/bin/python3.
"""
import json
import sys

import torch
import torch.nn.functional as F


def main(path):
    with open(path) as f:
        spec = json.load(f)
    c = spec["config"]
    D, H, depth, p = c["embedDim"], c["numHeads"], c["depth"], c["patchSize"]
    P = {}
    for name, t in spec["params"].items():
        v = torch.tensor(t["data"], dtype=torch.float32).reshape(t["shape"])
        frozen = name == "pos_embed" or name.startswith("norm.")
        P[name] = v.requires_grad_(not frozen)
    x = torch.tensor(spec["images"]["data"], dtype=torch.float32).reshape(spec["images"]["shape"]).permute(0, 3, 1, 2)
    y = torch.tensor(spec["labels"], dtype=torch.long)
    n = x.shape[0]

    t = F.conv2d(x, P["patch_embed.proj.weight"], P["patch_embed.proj.bias"], stride=p)  # [N, D, g, g]
    t = t.flatten(2).transpose(1, 2)  # [N, g², D]
    t = torch.cat([P["cls_token"].expand(n, -1, -1), t], dim=1) + P["pos_embed"]
    L = t.shape[1]
    hd = D // H
    for i in range(depth):
        b = lambda k: P[f"blocks.{i}.{k}"]
        h = F.layer_norm(t, (D,), b("norm1.weight"), b("norm1.bias"), eps=1e-6)
        qkv = F.linear(h, b("attn.qkv.weight"), b("attn.qkv.bias")).reshape(n, L, 3, H, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = ((q @ k.transpose(-2, -1)) * hd**-0.5).softmax(dim=-1) @ v  # [N, H, L, hd]
        a = a.transpose(1, 2).reshape(n, L, D)
        t = t + F.linear(a, b("attn.proj.weight"), b("attn.proj.bias"))
        h = F.layer_norm(t, (D,), b("norm2.weight"), b("norm2.bias"), eps=1e-6)
        t = t + F.linear(F.gelu(F.linear(h, b("mlp.fc1.weight"), b("mlp.fc1.bias"))), b("mlp.fc2.weight"), b("mlp.fc2.bias"))
    pooled = t[:, 1:, :].mean(dim=1)
    f = F.layer_norm(pooled, (D,), P["fc_norm.weight"], P["fc_norm.bias"], eps=1e-6)
    logits = F.linear(f, P["head.weight"], P["head.bias"])
    loss = F.cross_entropy(logits, y)
    loss.backward()
    out = {
        "torch": torch.__version__,
        "logits": logits.detach().flatten().tolist(),
        "loss": loss.item(),
        "grads": {k: v.grad.flatten().tolist() for k, v in P.items() if v.requires_grad},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
