"""Tokens/s of full training steps (forward, backward, MuonAdamW): eager against compiled, and beside the data loader's; interleaved A,B,A,B.

CPU (always): the `cpu` preset's model (depth 4, aspect_ratio 32, head_dim 64, sequence 512, batch 8, vocab 8192), float32,
eager, and the DataLoader on a 5M-character `en` dataset with its own 8192-token tokenizer, both made in a temporary base dir
whose corpora/ links to your cached corpora (nothing is downloaded). Prints the ratio loader tokens/s / train tokens/s. Then eager against `compile_for_training` (what nanochat_lit_train runs by
default), interleaved, at the `cpu` preset's shape and at a wider one (aspect 64, vocabulary 32,768, 4,096-token batch).
GPU (when torch.cuda.is_available()): tokens/s and MFU of full steps at depth 12 and 20 in the `h100x8` preset's shape,
bfloat16 and torch.compile.

    .venv/bin/python bench/train_cpu.py
    .venv/bin/python bench/train_cpu.py --rounds 7 --steps 4 --batches 80
"""
import statistics, tempfile
from pathlib import Path

import torch
from fastcore.script import call_parse

from model import tokens_per_sec  # bench/model.py: the running script's folder is on sys.path
from nanochat_lit.common import autodetect_device, base_dir, env_vars, peak_flops, resolve_settings, seed_everything
from nanochat_lit.dataloader import DataLoader
from nanochat_lit.dataset import prepare_dataset
from nanochat_lit.gpt import build_model, config_from_depth, derive_hyperparameters
from nanochat_lit.optim import setup_optimizers
from nanochat_lit.tokenizer import train_tokenizer
from nanochat_lit.train import MODEL_RECIPE, OPTIMIZER_RECIPE, compile_for_training

SHAPE = dict(vocab_size=0, aspect_ratio=0, head_dim=0, max_seq_len=0, device_batch_size=0)  # read from a preset
REFERENCE = ("reference: a user of the original nanochat harness reports ~3,500 tok/s on a CPU for a ~5M-parameter depth-4 model "
             "(aspect 32, head_dim 64, sequence 512); another machine and parameter count, so a yardstick, not a target")

def training_run(depth:int, shape:dict, device, compiled:bool=False):
    "Model, `MuonAdamW` and a closure doing one full optimizer step on a fixed random batch, as the training loop does."
    config = config_from_depth(depth, shape['vocab_size'], aspect_ratio=shape['aspect_ratio'], head_dim=shape['head_dim'],
                               sequence_len=shape['max_seq_len'], **MODEL_RECIPE)
    model = build_model(config, device)
    optimizer = setup_optimizers(model, **derive_hyperparameters(config).optimizer_settings(), **OPTIMIZER_RECIPE)
    forward, model.compile_seconds = compile_for_training(model, (shape['device_batch_size'], shape['max_seq_len']), compiled)
    idx = torch.randint(0, shape['vocab_size'], (shape['device_batch_size'], shape['max_seq_len'] + 1), device=device)
    def step():
        forward(idx[:, :-1], idx[:, 1:]).backward()
        optimizer.step()
        model.zero_grad(set_to_none=True)
    return model, step

def rounds_text(values, fmt='{:,.0f}'): return ', '.join(fmt.format(v) for v in values)

def bench_cpu(rounds:int, steps:int, batches:int):
    shape = resolve_settings(SHAPE, preset='cpu')
    B, T, cpu = shape['device_batch_size'], shape['max_seq_len'], torch.device('cpu')
    corpora = base_dir()/'corpora'  # the user's cache, resolved before we point the base dir elsewhere
    with tempfile.TemporaryDirectory(prefix='train_cpu_') as tmp, env_vars(NANOCHAT_LIT_BASE_DIR=tmp):
        (Path(tmp)/'corpora').symlink_to(corpora, target_is_directory=True)
        tokenizer = train_tokenizer(vocab_size=shape['vocab_size'], max_chars=5_000_000, sources='en', output=f'{tmp}/tokenizer')
        data_dir = prepare_dataset(sources='en', max_chars=5_000_000, output=f'{tmp}/data')
        loader = DataLoader(tokenizer, 'train', batch_size=B, seq_len=T, data_dir=data_dir, device='cpu')
        for _ in range(10): next(loader)  # warm-up: fills the packing buffer
        model, train_step = training_run(4, shape, cpu)
        for _ in range(2): train_step()  # warm-up: the first step allocates the optimizer's state
        counts = model.parameter_counts()
        print(f"CPU: {torch.get_num_threads()} torch threads, float32, eager | depth 4, {model.config.model_dim} wide, "
              f"vocab {shape['vocab_size']}, aspect {shape['aspect_ratio']}, head_dim {shape['head_dim']}, batch {B} x sequence {T} "
              f"| {counts['total']/1e6:.2f}M params ({counts['scaling']/1e6:.2f}M scaling) | {rounds} rounds of "
              f"{steps} train steps, then {batches} loader batches (tokenizer_threads {loader.tokenizer_threads})")
        train, load = [], []
        for _ in range(rounds):  # A, B, A, B: the drift of a shared machine hits both alike
            train.append(tokens_per_sec(train_step, B * T, steps, cpu))
            load.append(tokens_per_sec(lambda: next(loader), B * T, batches, cpu))
        ratios = [l / t for l, t in zip(load, train)]
        rate = statistics.median(train)
        print(f"train step (fwd+bwd+MuonAdamW): median {rate:,.0f} tok/s, {B * T / rate:.2f} s/step   rounds: {rounds_text(train)}")
        print(f"  achieved {model.estimate_flops() * rate / 1e9:.1f} GFLOP/s (estimate_flops x tok/s); MFU: not meaningful on CPU "
              f"(peak_flops has no CPU peak to divide by)")
        print(f"  {REFERENCE}")
        print(f"data loader: median {statistics.median(load):,.0f} tok/s   rounds: {rounds_text(load)} "
              f"| cropped {loader.cropped_fraction:.1%}, epoch {loader.epoch}")
        print(f"loader / train: median {statistics.median(ratios):,.1f}x   rounds: {rounds_text(ratios, '{:.1f}')} "
              f"(the loader is never the bottleneck while this is >> 1)")

def bench_compile(rounds:int, steps:int):
    "Eager against compiled full training steps, interleaved, at the cpu preset's shape and a wider one."
    cpu_shape = resolve_settings(SHAPE, preset='cpu')
    for name, shape in (('cpu preset', cpu_shape), ('wide', {**cpu_shape, 'aspect_ratio': 64, 'vocab_size': 32768})):
        runs = {}
        for compiled in (False, True):
            seed_everything(42)
            model, step = training_run(4, shape, torch.device('cpu'), compiled)
            for _ in range(2): step()  # the optimizer's state
            runs[compiled] = model, step
        tokens = shape['device_batch_size'] * shape['max_seq_len']
        eager, compiled = [], []
        for _ in range(rounds):  # A, B, A, B
            eager.append(tokens_per_sec(runs[False][1], tokens, steps, torch.device('cpu')))
            compiled.append(tokens_per_sec(runs[True][1], tokens, steps, torch.device('cpu')))
        ratios = [c / e for c, e in zip(compiled, eager)]
        print(f"compile, {name} (depth 4, {runs[False][0].config.model_dim} wide, vocab {shape['vocab_size']}, batch {tokens:,} tokens): "
              f"eager median {statistics.median(eager):,.0f} tok/s, compiled {statistics.median(compiled):,.0f} tok/s "
              f"(compiled in {runs[True][0].compile_seconds:.0f} s, not timed) | compiled / eager: median {statistics.median(ratios):.2f}x"
              f"   rounds: {rounds_text(ratios, '{:.2f}')}")

def bench_gpu(rounds:int, steps:int):
    device = autodetect_device('cuda')
    shape = resolve_settings(SHAPE, preset='h100x8')
    peak = peak_flops(device)
    print(f"GPU: {torch.cuda.get_device_name(device)}, bfloat16, torch.compile | h100x8 shape: vocab {shape['vocab_size']}, "
          f"aspect {shape['aspect_ratio']}, head_dim {shape['head_dim']}, sequence {shape['max_seq_len']} "
          f"| peak {f'{peak/1e12:.0f} TFLOP/s' if peak else 'unknown (no MFU)'}")
    for depth, batch_size in ((12, 16), (20, 8)):
        torch.cuda.reset_peak_memory_stats(device)
        model, train_step = training_run(depth, {**shape, 'device_batch_size': batch_size}, device, compiled=True)
        for _ in range(3): train_step()  # compilation and optimizer state
        rates = [tokens_per_sec(train_step, batch_size * shape['max_seq_len'], max(steps, 10), device) for _ in range(rounds)]
        rate = statistics.median(rates)
        mfu = f" | MFU {model.estimate_flops() * rate / peak:.1%}" if peak else ''
        print(f"depth {depth} ({model.parameter_counts()['total']/1e6:.0f}M params, batch {batch_size}): median {rate:,.0f} tok/s{mfu} "
              f"| peak memory {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB   rounds: {rounds_text(rates)}")
        del model, train_step
        torch.cuda.empty_cache()

@call_parse
def main(rounds:int=5, # interleaved rounds (train steps, then loader batches)
         steps:int=3, # full optimizer steps timed per round (at least 10 on a GPU)
         batches:int=60, # loader batches timed per round
        ):
    "Training tokens/s (forward, backward, MuonAdamW) of the cpu preset's depth-4 model beside the DataLoader's, eager vs compiled; MFU at depth 12 and 20 on a GPU."
    seed_everything(42)
    bench_cpu(rounds, steps, batches)
    bench_compile(rounds, steps)
    if torch.cuda.is_available(): bench_gpu(rounds, steps)
    else: print("GPU: none available (torch.cuda.is_available() is False); depth 12/20 bfloat16 torch.compile MFU part skipped")
