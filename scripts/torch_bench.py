"""PyTorch reference for apps/bench: the same CIFAR ResNet, batch and thread count.
Each normalizer is PyTorch's fastest module computing the same function: InstanceNorm with
affine is nn.GroupNorm(C, C) (faster in PyTorch 1.13 than nn.InstanceNorm2d; --plain-in uses
that instead), LayerNorm over (C, H, W) is nn.GroupNorm(1, C). --channels-last runs model and
input in torch.channels_last, PyTorch's recommended CPU format (oneDNN's blocked convolutions):
faster for some cells, slower for others, so scripts/compare_torch.py times both.
Usage: python3 scripts/torch_bench.py --norm bn --threads 2 --iters 10 [--depth 56] [--channels-last]"""
import argparse, ctypes, json, resource, time
import torch, torch.nn as nn, torch.nn.functional as F


PLAIN_IN = False


def make_norm(spec, c):
    name, _, arg = spec.partition(":")
    if name == "bn": return nn.BatchNorm2d(c)
    if name == "gn": return nn.GroupNorm(int(arg.split("=")[1]) if arg else 8, c)
    if name == "ln": return nn.GroupNorm(1, c)
    if name == "in": return nn.InstanceNorm2d(c, affine=True) if PLAIN_IN else nn.GroupNorm(c, c)
    if name == "none": return nn.Identity()
    raise ValueError(spec)


class Block(nn.Module):
    def __init__(self, i, o, s, norm):
        super().__init__()
        self.conv1 = nn.Conv2d(i, o, 3, s, 1, bias=False); self.bn1 = make_norm(norm, o)
        self.conv2 = nn.Conv2d(o, o, 3, 1, 1, bias=False); self.bn2 = make_norm(norm, o)
        self.shortcut = nn.Sequential()
        if s != 1 or i != o:
            self.shortcut = nn.Sequential(nn.Conv2d(i, o, 1, s, bias=False), make_norm(norm, o))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, depth=20, w=16, norm="bn"):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, w, 3, 1, 1, bias=False); self.bn1 = make_norm(norm, w)
        layers, i = [], w
        for s in range(3):
            o = w << s
            blocks = []
            for b in range(n):
                blocks.append(Block(i, o, 2 if (s > 0 and b == 0) else 1, norm)); i = o
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(i, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def peak_rss_mib():
    """VmHWM of /proc/self/status (what apps/bench reads), in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss():
    """As apps/bench: free heap pages back to the system, then restart VmHWM from here."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--norm", default="bn"); p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128); p.add_argument("--iters", type=int, default=10)
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--plain-in", action="store_true", help="nn.InstanceNorm2d for in")
    p.add_argument("--channels-last", action="store_true", help="torch.channels_last model and input")
    a = p.parse_args()
    global PLAIN_IN
    PLAIN_IN = a.plain_in
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    net = ResNet(a.depth, 16, a.norm)
    x = torch.randn(a.batch_size, 3, 32, 32); y = torch.arange(a.batch_size) % 10
    if a.channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad(); F.cross_entropy(net(x), y).backward(); opt.step()
    for _ in range(2): step()
    t = time.perf_counter()
    for _ in range(a.iters): step()
    train = a.iters * a.batch_size / (time.perf_counter() - t)
    train_peak = peak_rss_mib()
    opt.zero_grad(set_to_none=True)
    net.eval()
    reset_peak_rss()  # inference's own peak, as apps/bench measures it
    with torch.no_grad():
        for _ in range(2): net(x)
        t = time.perf_counter()
        for _ in range(a.iters): net(x)
        infer = a.iters * a.batch_size / (time.perf_counter() - t)
    infer_peak = peak_rss_mib()
    print(json.dumps({"framework": "pytorch", "norm": a.norm, "threads": a.threads,
                      "memory_format": "channels_last" if a.channels_last else "contiguous",
                      "train_img_per_s": round(train, 1), "infer_img_per_s": round(infer, 1),
                      "peak_rss_mib": round(train_peak, 1), "infer_peak_rss_mib": round(infer_peak, 1)}))


if __name__ == "__main__":
    main()
