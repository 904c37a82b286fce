"""Prints a markdown table (epoch, lr, losses, accuracies, seconds) from a metrics.jsonl file.
Usage: python3 scripts/results_table.py docs/results/bn.jsonl"""
import json, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| epoch | lr (start) | train loss | train acc | test loss | test acc | seconds | img/s |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['epoch']} | {r['lr']:.4f} | {r['train_loss']:.4f} | {100 * r['train_acc']:.2f}% | "
          f"{r['test_loss']:.4f} | {100 * r['test_acc']:.2f}% | {r['seconds']:.0f} | {r['img_per_s']:.0f} |")
secs = [r["seconds"] for r in rows]
print(f"\nFinal test accuracy {100 * rows[-1]['test_acc']:.2f}% after {rows[-1]['epoch']} epochs; "
      f"median {sorted(secs)[len(secs) // 2]:.0f} s per epoch, {sum(secs) / 60:.0f} min in all.")
