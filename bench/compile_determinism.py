"""What deterministic compiled kernels cost on the CPU: full training steps compiled as nanochat_lit_train compiles them, with
`use_deterministic_cpu_kernels` (chapter 5b; its default on the CPU) and without, interleaved A, B, A, B in one process.

Both arms are the `cpu` preset's model (depth 4, aspect 32, head_dim 64, sequence 512, batch 8, vocab 8192, today's recipe),
float32, built from the same seed, each with its own MuonAdamW. Before timing, each arm computes the gradients of one fixed
batch three times at its initial weights and says whether they were bit-identical. Then each round times --steps full
optimizer steps of each arm, in the order A, B in odd rounds and B, A in even ones, so that a machine speeding up or slowing
down within a round favours neither; the ratio deterministic / default of each round is printed, their median, and the
ratio of each arm's fastest round (on a machine shared with other work, the fastest round is the one least slowed by it).
Both in wall-clock time (tokens/s) and in the process's CPU time (tokens per CPU-second, which leaves out time spent
waiting for a core). OMP_NUM_THREADS=1 measures on one thread, which a busy machine slows less erratically than two.
Last, the one kernel the setting changes, alone: the gradient of a token embedding of the preset's size (compiled forward and
backward of a lookup of one micro-batch), timed --kernel-calls times per arm and round, its fastest call per arm: what the
setting costs per embedding table, in milliseconds, beside a full step (the model has three tables: the token embedding and
two value embeddings).
torch.compile guards on the deterministic setting, so each arm is compiled once, under its own setting, and switching
between them recompiles nothing. --output also writes the printout to a file (chapter 5b shows the committed one).

    .venv/bin/python bench/compile_determinism.py
    .venv/bin/python bench/compile_determinism.py --rounds 31 --steps 1 --output bench/results/compile_determinism_cpu.txt
"""
import statistics, time
from pathlib import Path

import torch
from fastcore.script import call_parse

from nanochat_lit.common import resolve_settings, seed_everything
from nanochat_lit.gpt import build_model, config_from_depth, derive_hyperparameters
from nanochat_lit.optim import setup_optimizers
from nanochat_lit.train import MODEL_RECIPE, OPTIMIZER_RECIPE, use_deterministic_cpu_kernels

SHAPE = dict(vocab_size=0, depth=0, aspect_ratio=0, head_dim=0, max_seq_len=0, device_batch_size=0)  # read from the cpu preset
ARMS = {'default': lambda: torch.use_deterministic_algorithms(False), 'deterministic': use_deterministic_cpu_kernels}

def training_arm(shape:dict, batch:torch.Tensor):
    "A compiled model, its optimizer, and one full optimizer step on `batch`; built from seed 42, so every arm starts equal."
    seed_everything(42)
    config = config_from_depth(shape['depth'], shape['vocab_size'], aspect_ratio=shape['aspect_ratio'], head_dim=shape['head_dim'],
                               sequence_len=shape['max_seq_len'], **MODEL_RECIPE)
    model = build_model(config, 'cpu')
    optimizer = setup_optimizers(model, **derive_hyperparameters(config).optimizer_settings(), **OPTIMIZER_RECIPE)
    forward = torch.compile(model)
    def step():
        forward(batch[:, :-1], batch[:, 1:]).backward()
        optimizer.step()
        model.zero_grad(set_to_none=True)
    return model, forward, step

def gradients_repeat(model, forward, batch:torch.Tensor, times:int=3) -> bool:
    "Whether `times` backward passes of one batch at the same weights give bit-identical gradients."
    grads = []
    for _ in range(times):
        forward(batch[:, :-1], batch[:, 1:]).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
        model.zero_grad(set_to_none=True)
    return all(all(torch.equal(a, b) for a, b in zip(grads[0], g)) for g in grads[1:])

def embedding_gradient(vocab_size:int, width:int, batch:torch.Tensor):
    "One compiled forward and backward of a token-embedding lookup: the kernel the setting changes."
    table = torch.nn.Embedding(vocab_size, width)
    lookup = torch.compile(lambda idx: table(idx).square().sum())
    def call():
        lookup(batch[:, :-1]).backward()
        table.weight.grad = None
    return call

def seconds(step, steps:int) -> tuple:
    "(wall-clock, CPU) seconds of `steps` calls of `step`."
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps): step()
    return time.perf_counter() - wall, time.process_time() - cpu

@call_parse
def main(rounds:int=21, # interleaved rounds, each timing both arms
         steps:int=1, # full optimizer steps per arm and round
         kernel_calls:int=20, # calls of the embedding gradient alone per arm and round
         output:str=None, # also write the printout to this file
        ):
    "Tokens/s of compiled CPU training steps with and without deterministic kernels, interleaved; ratios per round and their median."
    shape = resolve_settings(SHAPE, preset='cpu')
    tokens = shape['device_batch_size'] * shape['max_seq_len']
    batch = torch.randint(0, shape['vocab_size'], (shape['device_batch_size'], shape['max_seq_len'] + 1), generator=torch.Generator().manual_seed(0))
    lines = [f"CPU, {torch.get_num_threads()} torch threads, float32 | the cpu preset's model: depth {shape['depth']}, aspect {shape['aspect_ratio']}, "
             f"head_dim {shape['head_dim']}, vocab {shape['vocab_size']}, batch {shape['device_batch_size']} x {shape['max_seq_len']} = {tokens:,} tokens "
             f"| {rounds} rounds of {steps} full steps (forward, backward, MuonAdamW) per arm, interleaved"]
    say = lambda line: print(line, flush=True) or lines.append(line)
    print(lines[0], flush=True)
    arms = {}
    for name, setting in ARMS.items():
        setting()
        model, forward, step = arms[name] = training_arm(shape, batch)
        start = time.perf_counter()
        repeat = gradients_repeat(model, forward, batch)
        say(f"{name}: compiled and checked in {time.perf_counter() - start:.0f} s; gradients of one batch, three times: "
            f"{'bit-identical' if repeat else 'DIFFERENT'}")
        step()  # the optimizer's state
    rates = {(name, clock): [] for name in ARMS for clock in ('wall', 'cpu')}
    for i in range(rounds):  # A, B, B, A, A, B, ...: the drift of a shared machine hits both alike
        for name in list(ARMS)[::1 if i % 2 == 0 else -1]:
            ARMS[name]()
            for clock, spent in zip(('wall', 'cpu'), seconds(arms[name][2], steps)): rates[name, clock].append(tokens * steps / spent)
    for clock, unit in (('wall', 'tokens/s'), ('cpu', 'tokens per CPU-second')):
        for name in ARMS:
            values = rates[name, clock]
            say(f"{name}: median {statistics.median(values):,.0f} {unit}   rounds: {', '.join(f'{v:,.0f}' for v in values)}")
        ratios = [d / a for d, a in zip(rates['deterministic', clock], rates['default', clock])]
        fastest = max(rates['deterministic', clock]) / max(rates['default', clock])
        say(f"deterministic / default, {unit}: median {statistics.median(ratios):.3f}, fastest rounds {fastest:.3f}   "
            f"rounds: {', '.join(f'{r:.3f}' for r in ratios)}")
    kernels = {}
    for name, setting in ARMS.items():
        setting()
        kernels[name] = embedding_gradient(shape['vocab_size'], arms[name][0].config.model_dim, batch)
        kernels[name]()  # compiles
    fastest = {name: float('inf') for name in ARMS}
    for i in range(rounds):
        for name in list(ARMS)[::1 if i % 2 == 0 else -1]:
            ARMS[name]()
            for _ in range(kernel_calls): fastest[name] = min(fastest[name], seconds(kernels[name], 1)[0])
    step_ms = 1000 * tokens / max(rates['default', 'wall'])
    say(f"embedding gradient alone, fastest of {rounds * kernel_calls} calls: default {1000 * fastest['default']:.2f} ms, deterministic "
        f"{1000 * fastest['deterministic']:.2f} ms; difference {1000 * (fastest['deterministic'] - fastest['default']):+.2f} ms per table, "
        f"against {step_ms:,.0f} ms for the fastest full step")
    if output: Path(output).write_text('\n'.join(lines) + '\n')
