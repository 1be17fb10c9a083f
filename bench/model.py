"""Forward+backward throughput of the GPT (chapter 2), with and without each upgrade, interleaved A,B,A,B.

CPU (always): depth 4 and 6 of the `cpu` preset's shape: vocab 8192, aspect_ratio 32, head_dim 64, sequence 512.
GPU (when torch.cuda.is_available()): MFU at depth 12 and 20, vocab 65536, aspect 64, head_dim 128, sequence 2048,
bfloat16 (the compute dtype on Ampere or newer) and torch.compile.

    .venv/bin/python bench/model.py                  # both parts, whatever this machine has
    .venv/bin/python bench/model.py --rounds 5 --steps 5
"""
import statistics, time

import torch

from nanochat_lit.common import autodetect_device, compute_dtype, peak_flops, run_cli, synchronize
from nanochat_lit.gpt import build_model, config_from_depth

# (name, switches) pairs measured against the default model; each row of output is "variant / baseline"
VARIANTS = {'sliding window SSSL': dict(window_pattern='SSSL'), 'value embeddings': dict(value_embeds=True),
            'value embeddings, scaled': dict(value_embeds=True, value_embed_init='scaled'), 'qk scale 1.2': dict(qk_scale=1.2),
            'smear': dict(smear=True), 'backout': dict(backout=True)}  # the other switches of chapter 2 change only the initialisation

def make_step(model, idx, compiled:bool):
    "One forward+backward pass on `idx` (gradients are discarded: we time the model, not an optimizer)."
    forward = torch.compile(model) if compiled else model
    def step():
        loss = forward(idx[:, :-1], idx[:, 1:])
        loss.backward()
        model.zero_grad(set_to_none=True)
    return step

def tokens_per_sec(step, tokens_per_step:int, steps:int, device) -> float:
    "Time `steps` calls of `step` after the caller's warm-up."
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps): step()
    synchronize(device)
    return tokens_per_step * steps / (time.perf_counter() - start)

def compare(depth:int, device, batch_size:int, seq_len:int, vocab_size:int, aspect_ratio:int, head_dim:int,
            rounds:int, steps:int, compiled:bool=False):
    "Median tokens/s of the default model and of each variant, measured in interleaved rounds; ratios per round pair."
    configs = {'default': {}, **VARIANTS}
    idx = torch.randint(0, vocab_size, (batch_size, seq_len + 1), device=device)
    runs, models = {}, {}
    for name, switches in configs.items():
        config = config_from_depth(depth, vocab_size, aspect_ratio=aspect_ratio, head_dim=head_dim, sequence_len=seq_len, **switches)
        models[name] = build_model(config, device)
        runs[name] = make_step(models[name], idx, compiled)
        for _ in range(2 if compiled else 1): runs[name]()  # warm-up (and compilation)
    rates = {name: [] for name in configs}
    for _ in range(rounds):  # A, B, C, A, B, C, ...: slow drifts of a shared machine hit every configuration alike
        for name in configs: rates[name].append(tokens_per_sec(runs[name], batch_size * seq_len, steps, device))
    return models, rates

def report(depth, models, rates, device, peak):
    base = statistics.median(rates['default'])
    flops = models['default'].estimate_flops()
    mfu = f' | MFU {flops * base / peak:.1%}' if peak else ''
    print(f"depth {depth} default ({models['default'].config.model_dim} wide, {models['default'].parameter_counts()['total']/1e6:.1f}M params): "
          f"{base:,.0f} tok/s{mfu}   rounds: {', '.join(f'{r:,.0f}' for r in rates['default'])}")
    for name in VARIANTS:
        ratios = [v / b for v, b in zip(rates[name], rates['default'])]
        print(f"  + {name:26s} {statistics.median(rates[name]):>9,.0f} tok/s   ratio to default: median {statistics.median(ratios):.2f} "
              f"(rounds {', '.join(f'{r:.2f}' for r in ratios)})")

def bench(rounds:int=3, # interleaved rounds per configuration
          steps:int=3, # forward+backward passes timed per round
          skip_cpu:bool=False, # leave out the CPU part
          skip_gpu:bool=False, # leave out the GPU part
         ):
    "Tokens/s of forward+backward for the GPT on CPU (depth 4 and 6) and MFU on a GPU (depth 12 and 20), with A/B ratios per upgrade."
    if not skip_cpu:
        threads = torch.get_num_threads()
        print(f'CPU: {threads} threads, float32, vocab 8192, aspect 32, head_dim 64, sequence 512, batch 4, '
              f'{rounds} rounds x {steps} steps, eager')
        for depth in (4, 6):
            models, rates = compare(depth, torch.device('cpu'), batch_size=4, seq_len=512, vocab_size=8192, aspect_ratio=32,
                                    head_dim=64, rounds=rounds, steps=steps)
            report(depth, models, rates, torch.device('cpu'), None)
    if not skip_gpu and torch.cuda.is_available():
        device = autodetect_device('cuda')
        peak = peak_flops(device)
        print(f'GPU: {torch.cuda.get_device_name(device)}, {compute_dtype(device)}, vocab 65536, aspect 64, head_dim 128, '
              f'sequence 2048, torch.compile, peak {peak and f"{peak/1e12:.0f} TFLOP/s"}')
        for depth, batch_size in ((12, 16), (20, 8)):
            models, rates = compare(depth, device, batch_size=batch_size, seq_len=2048, vocab_size=65536, aspect_ratio=64,
                                    head_dim=128, rounds=rounds, steps=max(steps, 10), compiled=True)
            report(depth, models, rates, device, peak)
            print(f'  peak memory {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB (batch {batch_size})')
            del models
            torch.cuda.empty_cache()
    elif not skip_gpu:
        print('GPU: none available, MFU part skipped')

if __name__ == '__main__': run_cli(bench)
