"""What a session with a CUDA GPU runs first: checks of the GPU path, one line each with its time; the eight default ones take under
10 minutes on one H100.

1. env: the environment report (printed above the lines) and one line: GPU, torch, CUDA, NCCL, compute dtype.
2. bf16: at depth 4, after a few float32 training steps, the loss and gradients of one batch in bfloat16 agree with float32.
3. train: `nanochat_lit_train --compile` at depth 12: tokens/s, per-device MFU and peak memory beside the plan's estimate; a
   compile that failed and fell back to eager training is a FAIL.
4. fp8: on a GPU with float8 tensor cores (compute capability 8.9+), tokens/s of compiled training steps at the speed
   run's shape with FP8 block matmuls and without, interleaved, and their ratio, and the error of one FP8 forward matmul
   (fast accumulation) against float32; elsewhere a `skip` line says why not.
5. attention: a sliding-window layer at the d24 shape (2 × 2,048 positions, 12 heads of 128, the SSSL short window) in
   bfloat16, forward and backward through chapter 2's mask path and flex path: their largest differences and the time of
   each, interleaved; without CUDA a `skip` line.
6. resume: a run saved half-way and resumed with `--resume-step` gives the same losses as the uninterrupted run.
7. torchrun: `torchrun --nproc_per_node=1` (NCCL) gives the same losses as a plain process.
8. float16: a short run with `NANOCHAT_LIT_DTYPE=float16` (what T4, V100 and RTX 20xx train in, with chapter 3's loss
   scaler) keeps finite losses that fall, and logs its loss scale.

Three more run only when named with `--only` (a few minutes each on an H100):

9. speedrun: one GPU's share of the h100x8 preset (depth 24, 16 rows of 2,048 tokens, compiled, FP8 where the GPU has it)
   for 3 steps, saving at step 2: peak memory (allocated and reserved) against the plan's figure, the checkpoint's size
   against the dry run's, then a resume from step 2 that repeats step 3's loss, with its own peak memory. It skips a GPU
   with less memory than the plan; with --cpu it runs a toy of the shape.
10. laptop: the laptop-6gb preset for 30 steps with the CUDA allocator capped at what a 6 GB laptop GPU leaves a process
   (`torch.cuda.set_per_process_memory_fraction`, LAPTOP_GIB): the run must finish under the cap.
11. gpus: torchrun over every GPU of the machine (NCCL) against one process accumulating the same global batch: the
   same losses. It skips a machine with one GPU; with --cpu it runs two gloo processes.

`--only NAME,NAME` runs only the named checks (env, bf16, train, fp8, attention, resume, torchrun, float16, speedrun,
laptop, gpus); the tokenizer and dataset are made first when a named check needs them. A first GPU session runs the
defaults, then `--only speedrun,laptop,gpus`.

Everything happens in a temporary base directory, with no network: the tokenizer and the dataset are made from the Python
standard library's source files. The script exits 0 when every line says ok (or skip), 1 when one says FAIL (the run folder, with
each command's output in logs/, is then kept and named), and 2 on a machine without CUDA.

    .venv/bin/python bench/gpu_check.py                      # on a CUDA machine
    .venv/bin/python bench/gpu_check.py --depth 20 --steps 60
    .venv/bin/python bench/gpu_check.py --only attention,float16
    .venv/bin/python bench/gpu_check.py --cpu                # development: every check at toy size on the CPU, no compile
"""
import json, math, os, re, shutil, statistics, subprocess, sys, sysconfig, tempfile, time
from unittest import mock
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import torch, torch.nn.functional as F

from nanochat_lit.common import ConfigError, env_report, format_report, run_cli, seed_everything, synchronize
from nanochat_lit.dataloader import DataLoader
from nanochat_lit.dataset import prepare_dataset
from nanochat_lit.gpt import build_model, causal_attention, check_fp8_support, config_from_depth, derive_hyperparameters, fp8_linear, rms_norm
from nanochat_lit.optim import setup_optimizers
from nanochat_lit.tokenizer import Tokenizer, train_tokenizer
from nanochat_lit.train import MODEL_RECIPE, OPTIMIZER_RECIPE, format_bytes, plan_checkpoint_and_exchange, plan_training, planned_exchange_dtype

NEEDS_GPU = ("gpu_check: needs a CUDA GPU (torch.cuda.is_available() is False); run it on a machine with an NVIDIA GPU, "
             "or pass --cpu for the toy-size development run")
TIME_LIMIT_S = 600

# bf16 keeps 8 significant bits (relative rounding 2^-9 = 0.2% per value). Activations run in bf16 but the logits and the
# cross-entropy in float32, and the loss averages B*T tokens, so it lands within ~0.1-0.5% of float32's; a wrong cast, an
# overflow or a broken kernel moves it by far more than 1%, or to NaN. Gradients get the same rounding: direction within 0.99.
BF16_LOSS_RTOL, BF16_GRAD_COSINE = 1e-2, 0.99
# The same run repeated: on a CPU bit for bit. On a GPU some kernels (attention's backward pass among them) sum with atomic
# adds in a varying order, ~1e-6 relative per step, which a few steps of training grow to ~1e-5..1e-4; a resume or launcher
# that restores or shares the wrong state (optimizer moments, data position, schedule, RNG, gradient averaging) moves the
# loss by 1e-2 or more.
REPEAT_LOSS_RTOL = 1e-3
# nanochat reaches ~40-50% MFU at this shape on an H100; under 10% something is broken (no compile, float32, a starved loader).
MIN_MFU = 0.10
# The plan's memory figure is what people size device_batch_size by: a run that needs more than 1.2x of it ends in OOM.
MEMORY_ESTIMATE_SLACK = 1.2
# FP8 against bf16: rounds of training steps alternating bf16, fp8, bf16, fp8, ..., so that a GPU warming up or clocking down
# slows both alike; the medians are compared. The ratio is reported, not judged: at small widths the scaling passes can cost
# more than the faster matmuls save. Only a non-finite loss fails the check.
FP8_ROUNDS, FP8_STEPS_PER_ROUND = 4, 5
# One FP8 matmul (e4m3 inputs, fast accumulation) against float32: e4m3 rounds each entry by up to 1/16 and a dot product
# averages the roundings, so chapter 2 measures ~3% on the CPU; a broken scale or accumulation is off by far more.
FP8_FORWARD_RTOL = 0.06
# Attention, mask path against flex path, both in bfloat16 (8 significant bits): the two kernels sum in different orders, so
# outputs and gradients differ by ~0.1-1% of their size. The window's exact edges are pinned in float32 by chapter 2's test.
ATTENTION_RTOL = 2e-2
ATTENTION_SHAPE = dict(depth=24, batch_size=2, seq_len=2048)  # the d24 speed run's attention, one micro-batch of two rows
ATTENTION_ROUNDS, ATTENTION_STEPS_PER_ROUND = 5, 10

# One GPU's share of the h100x8 preset: its depth, rows and context (aspect ratio 64 and head dimension 128 are the defaults),
# 3 steps saved at step 2 and resumed from it; with --cpu, a toy of it.
SPEEDRUN = dict(depth=24, max_seq_len=2048, device_batch_size=16, steps=3, save_every=2)
TOY_SPEEDRUN = dict(depth=2, max_seq_len=128, device_batch_size=4, steps=3, save_every=2)
# What a 6 GB laptop GPU leaves one process: the CUDA context and the desktop take the difference on a real laptop.
LAPTOP_GIB, LAPTOP_STEPS = 5.5, 30
# Run by `laptop` in place of nanochat_lit_train: caps the allocator at a fraction of the GPU's memory, then trains.
CAPPED_TRAIN = ("import sys, torch; torch.cuda.set_per_process_memory_fraction(float(sys.argv[1])); "
                "from nanochat_lit.train import train_cli; train_cli(sys.argv[2:])")

SIZES = {  # text, the speed run of check 3 (depth, steps, ...), and the small runs of checks 2, 4 and 5 (small_*)
    'cuda': dict(vocab_size=32768, text_chars=20_000_000, depth=12, steps=40, max_seq_len=2048, device_batch_size=32,
                 small_depth=4, small_seq_len=1024, small_batch_size=8, small_steps=16, compile=True, speedrun=SPEEDRUN),
    'cpu': dict(vocab_size=1024, text_chars=1_000_000, depth=2, steps=6, max_seq_len=128, device_batch_size=4,
                small_depth=4, small_seq_len=128, small_batch_size=4, small_steps=6, compile=False, speedrun=TOY_SPEEDRUN),
}

def python_source_text(path:Path, max_chars:int) -> int:
    "Write the standard library's .py files as JSON lines of {'text': ...} until `max_chars`: text every machine has offline."
    stdlib, total = Path(sysconfig.get_paths()['stdlib']), 0
    with path.open('w') as f:
        for file in sorted(stdlib.rglob('*.py')):
            if 'site-packages' in file.parts or total >= max_chars: continue
            text = file.read_text('utf-8', errors='replace')
            f.write(json.dumps({'text': text}) + '\n')
            total += len(text)
    return total

def make_tokenizer_and_dataset(base:Path, size:dict) -> str:
    "A tokenizer and a dataset in `base`, both from Python source."
    (base/'text').mkdir(parents=True)
    chars = python_source_text(base/'text'/'stdlib.jsonl', size['text_chars'])
    with redirect_stdout(StringIO()):
        train_tokenizer(vocab_size=size['vocab_size'], max_chars=size['text_chars'], text_dir=str(base/'text'), output=str(base/'tokenizer'))
        prepare_dataset(text_dir=str(base/'text'), output=str(base/'data'))
    return (f"set-up: {size['vocab_size']:,}-token tokenizer and dataset from {chars / 1e6:.1f}M characters of Python "
            f"standard library source, no network")

def check_env(device:str) -> str:
    info = env_report()
    print(format_report(info, 'nanochat_lit environment'), end='\n\n', flush=True)
    if device == 'cpu': return f"env: cpu, torch {torch.__version__}, compute dtype {info['compute dtype']}"
    nccl = '.'.join(map(str, torch.cuda.nccl.version()))
    text = (f"env: {info['device name']} (capability {info['compute capability']}), torch {torch.__version__}, "
            f"CUDA {torch.version.cuda}, NCCL {nccl}, compute dtype {info['compute dtype']}")
    if info['compute dtype'] != 'bfloat16':
        raise AssertionError(f"{text}: expected bfloat16 on a GPU of capability 8.0 or newer; the bf16 and MFU checks do not apply (is NANOCHAT_LIT_DTYPE set?)")
    return text

def check_bf16(base:Path, device:str, size:dict, warmup_steps:int=10) -> str:
    tokenizer = Tokenizer.load(base/'tokenizer')
    config = config_from_depth(size['small_depth'], tokenizer.vocab_size, sequence_len=size['small_seq_len'], **MODEL_RECIPE)
    seed_everything(42)
    model = build_model(config, device)
    model.activation_dtype = torch.float32  # train a little first, so that no layer is still at its zero initialisation
    optimizer = setup_optimizers(model, **derive_hyperparameters(config).optimizer_settings(), **OPTIMIZER_RECIPE)
    batches = DataLoader(tokenizer, 'train', size['small_batch_size'], size['small_seq_len'], base/'data', device)
    for _ in range(warmup_steps):
        model(*next(batches)).backward()
        optimizer.step()
        model.zero_grad(set_to_none=True)
    inputs, targets = next(batches)
    loss, grad = {}, {}
    for dtype in (torch.float32, torch.bfloat16):
        model.activation_dtype = dtype
        value = model(inputs, targets)
        value.backward()
        loss[dtype], grad[dtype] = value.item(), torch.cat([p.grad.flatten() for p in model.parameters()])
        model.zero_grad(set_to_none=True)
    relative = abs(loss[torch.bfloat16] - loss[torch.float32]) / loss[torch.float32]
    cosine = F.cosine_similarity(grad[torch.float32].double(), grad[torch.bfloat16].double(), dim=0).item()
    text = (f"bf16 vs float32 at d{size['small_depth']}: loss {loss[torch.bfloat16]:.4f} vs {loss[torch.float32]:.4f} "
            f"(relative diff {relative:.1e}, tol {BF16_LOSS_RTOL:g}), gradient cosine {cosine:.4f} (min {BF16_GRAD_COSINE})")
    if not (relative <= BF16_LOSS_RTOL and cosine >= BF16_GRAD_COSINE): raise AssertionError(text)  # NaN fails too
    return text

FAILURE_LINE = re.compile(r'^(error: |[\w.]*(Error|Exception): \S)')  # our one-line errors, or an exception's last line

def torchrun(processes:int) -> list:
    "The command that runs nanochat_lit_train in `processes` processes on this machine."
    return [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={processes}', '-m', 'nanochat_lit.train']

def train(base:Path, name:str, args:list, command:list|None=None) -> str:
    "Run nanochat_lit_train (or `command`, which takes its flags) in `base`; its output goes to logs/<name>.txt."
    command = command or [str(Path(sys.executable).with_name('nanochat_lit_train'))]
    env = {**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(base), 'NCCL_DEBUG': 'INFO'}
    run = subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=TIME_LIMIT_S)
    log = base/'logs'/f'{name}.txt'
    log.parent.mkdir(exist_ok=True)
    log.write_text(f"$ {' '.join(command + args)}\n{run.stdout}\n--- stderr\n{run.stderr}")
    if run.returncode:
        lines = [l.strip() for l in run.stderr.splitlines() if l.strip()] or ['(no output)']
        reason = next((l for l in reversed(lines) if FAILURE_LINE.match(l)), lines[-1])
        raise AssertionError(f"{name}: exit status {run.returncode}: {reason} (full output: {log})")
    return run.stdout + run.stderr

def losses(base:Path, tag:str) -> dict:
    lines = (base/'checkpoints'/'base'/tag/'metrics.jsonl').read_text().splitlines()
    return {r['step']: r for r in map(json.loads, lines) if 'loss' in r}

def data_args(base:Path, tag:str) -> list:
    "Flags of a run on the set-up's tokenizer and dataset, with evaluation and samples only at the end."
    return ['--eval-every', '0', '--sample-every', '0', '--model-tag', tag, '--data-dir', str(base/'data'), '--tokenizer-dir', str(base/'tokenizer')]

def run_args(base:Path, device:str, tag:str, depth:int, seq_len:int, batch_size:int, steps:int, save_every:int=0, micro_batches:int=1) -> list:
    "Flags of a run with `micro_batches` micro-batches per step (over its processes), and one batch of validation."
    return ['--device', device, '--depth', str(depth), '--max-seq-len', str(seq_len), '--device-batch-size', str(batch_size),
            '--total-batch-size', str(micro_batches * batch_size * seq_len), '--num-iterations', str(steps),
            '--eval-tokens', str(batch_size * seq_len), '--save-every', str(save_every), *data_args(base, tag)]

def small_run_args(base:Path, device:str, size:dict, tag:str, save_every:int=0, micro_batches:int=1) -> list:
    "A short eager run: compiling each of the small runs would cost minutes and test nothing the speed run does not."
    return run_args(base, device, tag, size['small_depth'], size['small_seq_len'], size['small_batch_size'], size['small_steps'],
                    save_every, micro_batches) + ['--no-compile']

def check_train(base:Path, device:str, size:dict) -> str:
    args = run_args(base, device, 'speed', size['depth'], size['max_seq_len'], size['device_batch_size'], size['steps'])
    output = train(base, f"train-d{size['depth']}", args + ['--compile' if size['compile'] else '--no-compile'])
    if 'torch.compile failed' in output:
        raise AssertionError(f"train: {next(l.strip() for l in output.splitlines() if 'torch.compile failed' in l)}")
    estimate = re.search(r'memory per device\s+~([\d.]+) GiB', output)
    if estimate is None: raise AssertionError("train: the plan printed no 'memory per device  ~X GiB (estimate)' line")
    records = list(losses(base, 'speed').values())
    timed = records[len(records) // 4:]  # the first quarter holds compilation and warm-up
    tokens_per_sec = statistics.median(r['tokens_per_sec'] for r in timed)
    mfu = None if timed[0]['mfu'] is None else statistics.median(r['mfu'] for r in timed)  # None: no known peak FLOP/s (a CPU)
    peak, planned = max(r['peak_memory_gib'] for r in records), float(estimate[1])
    text = (f"train d{size['depth']}{' compiled' * size['compile']}, {len(timed)} of {len(records)} steps timed: "
            f"{tokens_per_sec:,.0f} tokens/s, MFU {'n/a' if mfu is None else f'{mfu:.1%}'} per device, "
            f"peak memory {peak:.2f} GiB vs plan ~{planned:.1f} GiB, loss {records[0]['loss']:.3f} -> {records[-1]['loss']:.3f}")
    problems = {'a loss is not finite': not all(math.isfinite(r['loss']) for r in records),
                'the loss did not fall': not records[-1]['loss'] < records[0]['loss'],
                f'MFU under {MIN_MFU:.0%}': device == 'cuda' and mfu is not None and mfu < MIN_MFU,
                f'peak memory over {MEMORY_ESTIMATE_SLACK}x the plan': device == 'cuda' and peak > MEMORY_ESTIMATE_SLACK * planned}
    problems = [problem for problem, found in problems.items() if found]
    if problems: raise AssertionError(f"{text}: {'; '.join(problems)}")
    return text

class Skip(Exception):
    "A check that does not apply on this machine: its line says why, and it neither passes nor fails the run."

def fp8_speeds(device:str, size:dict, rounds:int=FP8_ROUNDS, steps:int=FP8_STEPS_PER_ROUND) -> tuple:
    "({False: tokens/s per round without FP8, True: with it}, every round's last loss): training steps at the speed run's shape."
    config = config_from_depth(size['depth'], size['vocab_size'], sequence_len=size['max_seq_len'], **MODEL_RECIPE)
    seed_everything(42)
    model = build_model(config, device)
    optimizer = setup_optimizers(model, **derive_hyperparameters(config).optimizer_settings(), **OPTIMIZER_RECIPE)
    forward = torch.compile(model) if size['compile'] else model
    tokens = torch.randint(0, config.vocab_size, (size['device_batch_size'], size['max_seq_len'] + 1), device=device)

    def timed_steps(fp8:bool, n:int) -> tuple:
        model.use_fp8(fp8)
        synchronize(tokens.device)
        start = time.perf_counter()
        for _ in range(n):
            loss = forward(tokens[:, :-1], tokens[:, 1:])
            loss.backward()
            optimizer.step()
            model.zero_grad(set_to_none=True)
        synchronize(tokens.device)
        return n * tokens[:, 1:].numel() / (time.perf_counter() - start), loss.item()

    for fp8 in (False, True): timed_steps(fp8, 2)  # compile each variant and warm up, untimed
    speeds, losses = {False: [], True: []}, []
    for _ in range(rounds):
        for fp8 in (False, True):
            speed, loss = timed_steps(fp8, steps)
            speeds[fp8].append(speed)
            losses.append(loss)
    return speeds, losses

def fp8_forward_error(device:str, rows:int=4096, features:int=1536) -> float:
    "Relative error of one `fp8_linear` forward (d24's width) against the same matmul in float32."
    generator = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(rows, features, device=device, generator=generator).to(torch.bfloat16)
    weight = (torch.rand(features, features, device=device, generator=generator) * 2 - 1) / math.sqrt(features)
    exact = x.float() @ weight.t()
    return ((fp8_linear(x, weight).float() - exact).norm() / exact.norm()).item()

def check_fp8(device:str, size:dict) -> str:
    if device != 'cuda': raise Skip("fp8 vs bf16: needs a CUDA GPU with float8 tensor cores (compute capability 8.9+); this run is on the CPU")
    try: check_fp8_support(device)
    except ConfigError as e: raise Skip(f"fp8 vs bf16: {e}") from None
    forward_error = fp8_forward_error(device)
    speeds, losses = fp8_speeds(device, size)
    bf16, fp8 = statistics.median(speeds[False]), statistics.median(speeds[True])
    text = (f"fp8 vs bf16 at d{size['depth']}{' compiled' * size['compile']}, {FP8_ROUNDS} interleaved rounds of {FP8_STEPS_PER_ROUND} "
            f"training steps: {fp8:,.0f} vs {bf16:,.0f} tokens/s, ratio {fp8 / bf16:.2f}; one forward matmul (fast accumulation) "
            f"vs float32: relative error {forward_error:.3f} (tol {FP8_FORWARD_RTOL})")
    if not all(math.isfinite(loss) for loss in losses): raise AssertionError(f"{text}: a loss is not finite")
    if not forward_error <= FP8_FORWARD_RTOL: raise AssertionError(f"{text}: the forward matmul is too far off")
    return text

def attention_comparison(device:str, batch_size:int, n_head:int, seq_len:int, head_dim:int, window:int, n_kv_head:int|None=None,
                         dtype:torch.dtype=torch.bfloat16, rounds:int=ATTENTION_ROUNDS, steps:int=ATTENTION_STEPS_PER_ROUND) -> tuple:
    "({output, grad q, grad k, grad v: (max |flex - mask|, relative norm of the difference)}, {backend: seconds per forward+backward, per round})."
    generator = torch.Generator(device=device).manual_seed(0)
    def draw(heads): return torch.randn(batch_size, heads, seq_len, head_dim, device=device, generator=generator)
    q, k = (1.2 * rms_norm(draw(heads)).to(dtype) for heads in (n_head, n_kv_head or n_head))  # the model's QK-norm and qk_scale
    v, upstream = draw(n_kv_head or n_head).to(dtype), draw(n_head).to(dtype)
    def forward_backward(backend:str) -> tuple:
        leaves = [t.detach().requires_grad_() for t in (q, k, v)]
        out = causal_attention(*leaves, window, backend)
        return (out.detach(), *torch.autograd.grad(out, leaves, upstream))
    results = {backend: forward_backward(backend) for backend in ('mask', 'flex')}  # the first flex call compiles its kernels
    names = ('output', 'grad q', 'grad k', 'grad v')
    differences = {name: ((f.float() - m.float()).abs().max().item(), ((f.float() - m.float()).norm() / m.float().norm()).item())
                   for name, f, m in zip(names, results['flex'], results['mask'])}
    times = {'mask': [], 'flex': []}
    for _ in range(rounds):  # mask, flex, mask, flex, ...: a GPU warming up or clocking down slows both alike
        for backend in times:
            synchronize(q.device)
            start = time.perf_counter()
            for _ in range(steps): forward_backward(backend)
            synchronize(q.device)
            times[backend].append((time.perf_counter() - start) / steps)
    return differences, times

def check_attention(device:str) -> str:
    if device != 'cuda': raise Skip("attention, mask vs flex: flex_attention trains on CUDA only (the CPU refuses its backward pass); this run is on the CPU")
    config = config_from_depth(ATTENTION_SHAPE['depth'], 32768, sequence_len=ATTENTION_SHAPE['seq_len'], window_pattern='SSSL')
    window = config.window_sizes[0]
    differences, times = attention_comparison(device, ATTENTION_SHAPE['batch_size'], config.n_head, config.sequence_len, config.head_dim, window)
    mask, flex = statistics.median(times['mask']), statistics.median(times['flex'])
    text = (f"attention at d{config.n_layer}'s shape (B={ATTENTION_SHAPE['batch_size']}, T={config.sequence_len}, {config.n_head} heads of "
            f"{config.head_dim}, window {window}), bf16 forward+backward, flex vs mask: max |difference| "
            + ', '.join(f'{name} {peak:.1e}' for name, (peak, _) in differences.items())
            + f", relative at most {max(rel for _, rel in differences.values()):.1e} (tol {ATTENTION_RTOL:g}); {ATTENTION_ROUNDS} interleaved rounds: "
            f"mask {1e3 * mask:.2f} ms, flex {1e3 * flex:.2f} ms, mask/flex {mask / flex:.2f}")
    if not all(rel <= ATTENTION_RTOL for _, rel in differences.values()): raise AssertionError(text)  # NaN fails too
    return text

def compare_losses(what:str, expected:dict, got:dict, steps:range) -> str:
    if sorted(got) != list(steps) or any(s not in expected for s in steps):
        raise AssertionError(f"{what}: steps {sorted(got)} logged, {steps.start}..{steps.stop - 1} expected")
    diff = max(abs(got[s]['loss'] - expected[s]['loss']) / abs(expected[s]['loss']) for s in steps)
    text = (f"{what}: losses of steps {steps.start}..{steps.stop - 1} agree to max relative diff {diff:.1e} (tol {REPEAT_LOSS_RTOL:g}), "
            f"step {steps.stop - 1}: {got[steps.stop - 1]['loss']:.4f} vs {expected[steps.stop - 1]['loss']:.4f}")
    if not diff <= REPEAT_LOSS_RTOL: raise AssertionError(text)
    return text

def check_resume(base:Path, device:str, size:dict) -> str:
    n, half = size['small_steps'], size['small_steps'] // 2
    args = small_run_args(base, device, size, 'resume', save_every=half)
    train(base, 'resume-whole', args)
    whole = losses(base, 'resume')
    train(base, 'resume-from-half', args + ['--resume-step', str(half)])  # drops metrics after `half`, then logs half+1..n
    resumed = {s: r for s, r in losses(base, 'resume').items() if s > half}
    return compare_losses(f"resume from step {half} of {n} (eager)", whole, resumed, range(half + 1, n + 1))

def check_torchrun(base:Path, device:str, size:dict) -> str:
    train(base, 'plain', small_run_args(base, device, size, 'plain'))
    output = train(base, 'torchrun', small_run_args(base, device, size, 'torchrun'), torchrun(1))
    backend = 'nccl' if device == 'cuda' else 'gloo'
    if device == 'cuda' and 'NCCL INFO' not in output:
        raise AssertionError("torchrun: no 'NCCL INFO' line in its output (NCCL_DEBUG=INFO): the process group did not use NCCL")
    return compare_losses(f"torchrun --nproc_per_node=1 ({backend}) vs plain process", losses(base, 'plain'), losses(base, 'torchrun'),
                          range(1, size['small_steps'] + 1))

def check_float16(base:Path, device:str, size:dict) -> str:
    with mock.patch.dict(os.environ, NANOCHAT_LIT_DTYPE='float16'): train(base, 'float16', small_run_args(base, device, size, 'float16'))
    records = list(losses(base, 'float16').values())
    scales = [r['loss_scale'] for r in records if 'loss_scale' in r]
    skipped = sum(bool(r.get('skipped')) for r in records)
    text = (f"float16 with the loss scaler, {len(records)} steps: loss {records[0]['loss']:.3f} -> {records[-1]['loss']:.3f}, "
            f"{skipped} steps skipped, loss scale {scales[-1] if scales else 'not logged'}")
    problems = {'a loss is not finite': not all(math.isfinite(r['loss']) for r in records),
                'the loss did not fall': not records[-1]['loss'] < records[0]['loss'],
                'no loss scale logged (the scaler is off)': not scales, 'every step was skipped': skipped == len(records)}
    problems = [problem for problem, found in problems.items() if found]
    if problems: raise AssertionError(f"{text}: {'; '.join(problems)}")
    return text

def check_speedrun(base:Path, device:str, size:dict) -> str:
    shape = size['speedrun']
    plan = plan_training(size['vocab_size'], 1, shape['depth'], 64, 128, shape['max_seq_len'], shape['device_batch_size'],
                         shape['device_batch_size'] * shape['max_seq_len'], shape['steps'])
    gpu_gib = torch.cuda.get_device_properties(0).total_memory / 2**30 if device == 'cuda' else None
    if gpu_gib is not None and plan.memory_gib() > gpu_gib:
        raise Skip(f"speedrun: the plan needs ~{plan.memory_gib():.1f} GiB per GPU and this one has {gpu_gib:.1f} GiB")
    try: check_fp8_support(device); fp8 = '--fp8' if device == 'cuda' else '--no-fp8'  # the CPU's float8 matmuls are slow emulations
    except ConfigError: fp8 = '--no-fp8'  # the preset's FP8 needs compute capability 8.9+; the memory plan holds without it
    args = run_args(base, device, 'speedrun', shape['depth'], shape['max_seq_len'], shape['device_batch_size'], shape['steps'],
                    shape['save_every']) + ['--head-dim', '128', '--compile' if size['compile'] else '--no-compile', fp8]
    train(base, 'speedrun', args)
    whole = losses(base, 'speedrun')
    written = base/'checkpoints'/'base'/'speedrun'/f"step_{shape['save_every']:06d}"
    saved = sum(f.stat().st_size for f in written.glob('*.pt') if not f.name.startswith('state_rank'))
    planned = plan_checkpoint_and_exchange(plan, planned_exchange_dtype(device), **OPTIMIZER_RECIPE)['total']
    train(base, 'speedrun-resumed', args + ['--resume-step', str(shape['save_every'])])
    resumed = {s: r for s, r in losses(base, 'speedrun').items() if s > shape['save_every']}
    peak = lambda records, key: max(r.get(key, 0) for r in records.values())  # a resumed run's peak is its own: it starts afresh
    memory = lambda records: (f"{peak(records, 'peak_memory_gib'):.1f} GiB"
                              + (f" (reserved {peak(records, 'peak_reserved_gib'):.1f})" if device == 'cuda' else ''))
    text = (f"speedrun shape (d{shape['depth']}, {shape['device_batch_size']}x{shape['max_seq_len']}{', compiled' * size['compile']}, {fp8[2:]}) "
            f"on {'the CPU' if gpu_gib is None else f'a {gpu_gib:.0f} GiB GPU'}, plan ~{plan.memory_gib():.1f} GiB: peak memory {memory(whole)}, "
            f"resumed {memory(resumed)}; checkpoint {format_bytes(saved)} vs dry run {format_bytes(planned)}; "
            + compare_losses('resume', whole, resumed, range(shape['save_every'] + 1, shape['steps'] + 1)))
    over = device == 'cuda' and max(peak(whole, 'peak_memory_gib'), peak(resumed, 'peak_memory_gib')) > MEMORY_ESTIMATE_SLACK * plan.memory_gib()
    problems = {f'peak memory over {MEMORY_ESTIMATE_SLACK}x the plan': over,
                'the checkpoint differs from the dry run by more than 5%': abs(saved - planned) > 0.05 * planned}
    if problems := [problem for problem, found in problems.items() if found]: raise AssertionError(f"{text}: {'; '.join(problems)}")
    return text

def check_laptop(base:Path, device:str, size:dict) -> str:
    if device != 'cuda': raise Skip("laptop: the laptop-6gb preset under a 6 GB memory cap needs a CUDA GPU; this run is on the CPU")
    fraction = LAPTOP_GIB * 2**30 / torch.cuda.get_device_properties(0).total_memory
    args = ['--preset', 'laptop-6gb', '--num-iterations', str(LAPTOP_STEPS), '--eval-tokens', '65536', '--save-every', '0', *data_args(base, 'laptop')]
    train(base, 'laptop', args, [sys.executable, '-c', CAPPED_TRAIN, str(fraction)])
    records = list(losses(base, 'laptop').values())
    timed = records[len(records) // 4:]
    text = (f"laptop-6gb preset, {len(records)} steps with the allocator capped at {LAPTOP_GIB} GiB: peak memory "
            f"{max(r['peak_memory_gib'] for r in records):.2f} GiB (reserved {max(r.get('peak_reserved_gib', 0) for r in records):.2f}), "
            f"{statistics.median(r['tokens_per_sec'] for r in timed):,.0f} tokens/s on this GPU, loss {records[0]['loss']:.3f} -> {records[-1]['loss']:.3f}")
    if not all(math.isfinite(r['loss']) for r in records) or not records[-1]['loss'] < records[0]['loss']:
        raise AssertionError(f"{text}: the loss is not finite or did not fall")
    return text

def check_gpus(base:Path, device:str, size:dict) -> str:
    processes = torch.cuda.device_count() if device == 'cuda' else 2
    if processes < 2: raise Skip("gpus: torchrun over every GPU needs two or more; this machine has one")
    train(base, 'gpus-one-process', small_run_args(base, device, size, 'gpus-one', micro_batches=processes))
    output = train(base, 'gpus', small_run_args(base, device, size, 'gpus', micro_batches=processes), torchrun(processes))
    if device == 'cuda' and 'NCCL INFO' not in output:
        raise AssertionError("gpus: no 'NCCL INFO' line in its output (NCCL_DEBUG=INFO): the process group did not use NCCL")
    return compare_losses(f"torchrun --nproc_per_node={processes} ({'nccl' if device == 'cuda' else 'gloo'}) vs one process accumulating "
                          f"{processes} micro-batches", losses(base, 'gpus-one'), losses(base, 'gpus'), range(1, size['small_steps'] + 1))

CHECKS = ('env', 'bf16', 'train', 'fp8', 'attention', 'resume', 'torchrun', 'float16')  # the default run
MORE_CHECKS = ('speedrun', 'laptop', 'gpus')  # only with --only
NEEDS_DATA = {'bf16', 'train', 'resume', 'torchrun', 'float16', 'speedrun', 'laptop', 'gpus'}  # what trains on the tokenizer and dataset made first

def report(check, *args) -> bool:
    "Run one check and print its line; `Skip` is a skip line, any other exception a FAIL, each with the reason. False on FAIL."
    start = time.perf_counter()
    try: status, text = 'ok', check(*args)
    except Skip as e: status, text = 'skip', str(e)
    except Exception as e: status, text = 'FAIL', str(e) if isinstance(e, AssertionError) else f"{check.__name__}: {type(e).__name__}: {e}"
    print(f"{status:<5} {' '.join(text.split())} [{time.perf_counter() - start:.0f} s]", flush=True)
    return status != 'FAIL'

def gpu_check(cpu:bool=False, # development: every check at toy size on the CPU, without torch.compile
              depth:int=None, # depth of the speed run (default 12; 2 with --cpu)
              steps:int=None, # optimizer steps of the speed run (default 40; 6 with --cpu)
              only:str=None, # comma-separated checks (default: the first eight): env, bf16, train, fp8, attention, resume, torchrun, float16, speedrun, laptop, gpus
             ):
    "Check the GPU path: environment, bf16 against float32, compiled training speed and memory, FP8's speed, attention's flex path, exact resume, torchrun with NCCL, float16 training; with --only, also the speed run's shape, the laptop preset and every GPU."
    chosen = CHECKS if only is None else [name.strip() for name in only.split(',') if name.strip()]
    if unknown := [name for name in chosen if name not in CHECKS + MORE_CHECKS]:
        raise ConfigError(f"--only: {unknown[0]!r} is not a check; choose from {', '.join(CHECKS + MORE_CHECKS)}")
    if not cpu and not torch.cuda.is_available():
        print(NEEDS_GPU, file=sys.stderr)
        sys.exit(2)
    device = 'cpu' if cpu else 'cuda'
    size = {**SIZES[device], **{k: v for k, v in dict(depth=depth, steps=steps).items() if v is not None}}
    start, base = time.perf_counter(), Path(tempfile.mkdtemp(prefix='gpu_check_'))
    os.environ['NANOCHAT_LIT_BASE_DIR'] = str(base)
    runs = {'env': (check_env, device), 'bf16': (check_bf16, base, device, size), 'train': (check_train, base, device, size),
            'fp8': (check_fp8, device, size), 'attention': (check_attention, device), 'resume': (check_resume, base, device, size),
            'torchrun': (check_torchrun, base, device, size), 'float16': (check_float16, base, device, size),
            **{name: (check, base, device, size) for name, check in zip(MORE_CHECKS, (check_speedrun, check_laptop, check_gpus))}}
    results = [report(*runs['env'])] if 'env' in chosen else []
    if NEEDS_DATA & set(chosen): results.append(report(make_tokenizer_and_dataset, base, size))
    results += [report(*runs[name]) for name in CHECKS[1:] + MORE_CHECKS if name in chosen]
    elapsed = time.perf_counter() - start
    results.append(elapsed <= TIME_LIMIT_S)
    print(f"{'ok' if results[-1] else 'FAIL':<5} total time {elapsed:.0f} s (limit {TIME_LIMIT_S} s)")
    if all(results): shutil.rmtree(base)
    else: print(f"kept {base} for a look: the runs' output is in {base/'logs'}")
    sys.exit(0 if all(results) else 1)

if __name__ == '__main__': run_cli(gpu_check)
