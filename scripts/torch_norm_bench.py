"""PyTorch counterpart of `bench_layers norm`: forward and forward+backward milliseconds of
BatchNorm2d, GroupNorm(8), GroupNorm(1) (= ln), InstanceNorm2d(affine) and timm's LayerNorm2d
(= ln2d: permute to channels-last, F.layer_norm over C, permute back, as timm writes it) at
ResNet-20 shapes.
Usage: python3 scripts/torch_norm_bench.py --threads 2 [--norms bn ln2d]"""
import argparse, json, time
import torch, torch.nn as nn


def median_time(fn, iters):
    fn()
    ts = []
    for _ in range(iters):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2]


p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2); p.add_argument("--iters", type=int, default=10)
p.add_argument("--batch-size", type=int, default=128)
p.add_argument("--norms", nargs="+", default=["bn", "gn:groups=8", "ln", "in"])
a = p.parse_args()
torch.set_num_threads(a.threads)


class LayerNorm2d(nn.LayerNorm):
    """timm.layers.LayerNorm2d: LayerNorm over the channels of an NCHW map."""
    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


makers = {"bn": lambda c: nn.BatchNorm2d(c), "gn:groups=8": lambda c: nn.GroupNorm(8, c),
          "ln": lambda c: nn.GroupNorm(1, c), "in": lambda c: nn.InstanceNorm2d(c, affine=True),
          "ln2d": lambda c: LayerNorm2d(c, eps=1e-6)}
for name in a.norms:
    make = makers[name]
    for c, hw in ((16, 32), (32, 16), (64, 8)):
        m = make(c)
        x = torch.randn(a.batch_size, c, hw, hw, requires_grad=True); gy = torch.randn_like(x)
        with torch.no_grad():
            fwd = median_time(lambda: m(x), a.iters)
        both = median_time(lambda: m(x).backward(gy), a.iters)
        print(json.dumps({"framework": "pytorch", "norm": name, "shape": [a.batch_size, c, hw, hw],
                          "threads": a.threads, "fwd_ms": round(fwd * 1e3, 3), "fwd_bwd_ms": round(both * 1e3, 3)}))
