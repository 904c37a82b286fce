"""The standard recipe of docs/results.md, in PyTorch: what accuracy PyTorch itself reaches.

Same model as scripts/torch_bench.py (CIFAR ResNet-20, projection shortcuts, PyTorch-default
init), same data (the JPEG image folder, decoded with PIL), same augmentation (random crop 32
from the 4-px zero-padded image, flip p=0.5, per-channel normalization with the training-set
mean/std), SGD + Nesterov, wd 5e-4 on all parameters, batch 128 with drop-last, OneCycleLR
(max_lr 0.1, pct_start 0.15, linear, default momentum cycling) stepped every batch. Writes one
JSON line per epoch in the format of apps/train's metrics.jsonl, so scripts/plot_metrics.py and
scripts/results_table.py read it.

Usage: /usr/bin/python3 scripts/torch_train_reference.py --norm ln --threads 2 \
           --data ../shared/datasets/cifar10-jpeg --out runs/torch_ln.jsonl
"""
import argparse, json, os, sys, time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bench import ResNet  # noqa: E402


def load_split(root, split):
    classes = sorted(os.listdir(os.path.join(root, split)))
    images, labels = [], []
    for label, name in enumerate(classes):
        folder = os.path.join(root, split, name)
        for f in sorted(os.listdir(folder)):
            with Image.open(os.path.join(folder, f)) as im:
                images.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
            labels.append(label)
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()  # N,3,32,32 uint8
    return x, torch.tensor(labels)


def augment(x, gen):
    """Random crop 32 from the 4-px zero-padded image, horizontal flip p = 0.5 (uint8 in/out)."""
    n = x.shape[0]
    padded = F.pad(x, (4, 4, 4, 4))
    oy = torch.randint(0, 9, (n,), generator=gen)
    ox = torch.randint(0, 9, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        crop = padded[i, :, oy[i]:oy[i] + 32, ox[i]:ox[i] + 32]
        out[i] = crop.flip(-1) if flip[i] else crop
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--norm", default="ln")
    p.add_argument("--data", default="../shared/datasets/cifar10-jpeg")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)

    xtr, ytr = load_split(a.data, "train")
    xte, yte = load_split(a.data, "test")
    mean = (xtr.float() / 255).mean(dim=(0, 2, 3)).view(1, 3, 1, 1)
    std = (xtr.float() / 255).std(dim=(0, 2, 3)).view(1, 3, 1, 1)
    norm = lambda u8: (u8.float() / 255 - mean) / std

    net = ResNet(20, 16, a.norm)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps = len(xtr) // 128
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=a.epochs * steps,
                                                pct_start=0.15, anneal_strategy="linear")
    with open(a.out, "w") as log:
        for epoch in range(1, a.epochs + 1):
            t0 = time.perf_counter()
            lr = opt.param_groups[0]["lr"]
            net.train()
            perm = torch.randperm(len(xtr), generator=gen)
            loss_sum, correct = 0.0, 0
            for s in range(steps):
                idx = perm[s * 128:(s + 1) * 128]
                x, y = norm(augment(xtr[idx], gen)), ytr[idx]
                out = net(x)
                loss = F.cross_entropy(out, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                loss_sum += loss.item()
                correct += (out.argmax(1) == y).sum().item()
            train_seconds = time.perf_counter() - t0
            net.eval()
            test_loss, test_correct = 0.0, 0
            with torch.no_grad():
                for b in range(0, len(xte), 500):
                    out = net(norm(xte[b:b + 500]))
                    test_loss += F.cross_entropy(out, yte[b:b + 500], reduction="sum").item()
                    test_correct += (out.argmax(1) == yte[b:b + 500]).sum().item()
            seconds = time.perf_counter() - t0
            rec = {"epoch": epoch, "lr": lr, "train_loss": loss_sum / steps,
                   "train_acc": correct / (steps * 128), "test_loss": test_loss / len(xte),
                   "test_acc": test_correct / len(xte), "seconds": round(seconds, 1),
                   "img_per_s": round(steps * 128 / train_seconds, 1)}
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()


if __name__ == "__main__":
    main()
