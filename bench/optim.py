"""Time of one Muon step on the block matrices of a model, by Newton–Schulz dtype and with NorMuon, interleaved A,B,A,B.

CPU (always): the `cpu` preset's shape at depth 4 and 6 (aspect_ratio 32, head_dim 64). On CUDA, depth 12 and 20 (aspect 64).
Each row prints the median milliseconds per step and the ratio against the default (bfloat16, no NorMuon) in the same round.

    .venv/bin/python bench/optim.py
    .venv/bin/python bench/optim.py --rounds 5 --steps 3
"""
import statistics, time

import torch

from nanochat_lit.common import autodetect_device, run_cli, synchronize
from nanochat_lit.gpt import build_model, config_from_depth
from nanochat_lit.optim import setup_optimizers

VARIANTS = {'default (bf16 Newton-Schulz)': {}, 'float32 Newton-Schulz': dict(ns_dtype=torch.float32),
            'NorMuon': dict(normuon_beta=0.95), 'cautious weight decay': dict(cautious_weight_decay=True, weight_decay=0.2)}

def step_ms(model, switches:dict, steps:int, device) -> float:
    "Milliseconds per optimizer step of a fresh `setup_optimizers(model, **switches)` on random gradients, after one warm-up step."
    optimizer = setup_optimizers(model, **switches)
    for p in model.parameters(): p.grad = torch.randn_like(p)
    optimizer.step(); synchronize(device)
    start = time.perf_counter()
    for _ in range(steps): optimizer.step()
    synchronize(device)
    return (time.perf_counter() - start) / steps * 1000

def bench_optim(rounds:int=3, # interleaved rounds per depth
                steps:int=3, # optimizer steps timed per variant and round
               ):
    "Print the milliseconds per optimizer step of each variant and its ratio to the default, depth by depth."
    device = autodetect_device()
    shape = dict(vocab_size=8192, aspect_ratio=32, head_dim=64) if device.type == 'cpu' else dict(vocab_size=65536, aspect_ratio=64, head_dim=128)
    for depth in ((4, 6) if device.type == 'cpu' else (12, 20)):
        model = build_model(config_from_depth(depth, **shape), device)
        times = {name: [] for name in VARIANTS}
        for _ in range(rounds):
            for name, switches in VARIANTS.items(): times[name].append(step_ms(model, switches, steps, device))
        baseline = times['default (bf16 Newton-Schulz)']
        print(f"depth {depth} on {device.type}, model_dim {model.config.model_dim}:")
        for name, values in times.items():
            ratios = [v / b for v, b in zip(values, baseline)]
            print(f"  {name:30s} {statistics.median(values):8.1f} ms/step   ×{statistics.median(ratios):.2f} of the default")

if __name__ == '__main__': run_cli(bench_optim)
