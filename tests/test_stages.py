"nanochat_lit_train --stage mid|sft|rl as people run it: killed and resumed, two processes against one on the same global batch, and bad input."
import json, signal, subprocess, sys, time

import pytest, torch

from conftest import SCRIPTS, _save
from test_train import env, run

TINY = {'mid': ['--device-batch-size', '2', '--eval-every', '0', '--no-compile'],
        'sft': ['--device-batch-size', '2', '--eval-every', '0', '--chat-eval', ''],
        # the tiny SFT checkpoint records no learning rates, so RL starts from base training's: 0.05 of them, nanochat's RL rates
        'rl': ['--num-samples', '4', '--max-new-tokens', '96', '--problems', '100', '--eval-every', '0', '--eval-problems', '4', '--eval-samples', '2',
               '--lr-frac', '0.05']}
BATCH = {'mid': ['--total-batch-size', '1024'], 'sft': ['--examples-per-step', '4'],  # two micro-batches of one process, one each of two
         'rl': ['--prompts-per-step', '2']}
COMMON = ['--data', 'offline', '--device', 'cpu', '--source-tag', 'tiny']
STEPS, SAVE_EVERY = {'mid': 30, 'sft': 30, 'rl': 9}, {'mid': 10, 'sft': 10, 'rl': 3}
RL_PROMPTS = 2 * STEPS['rl']


@pytest.fixture(scope='module')
def stages(tmp_path_factory):
    """A base directory with a small random model saved as base and mid checkpoints (tag 'tiny'), and as the sft checkpoint the same
    model fitted to the first math problems RL reads: sampled at temperature 1 its replies are sometimes right, so rewards differ."""
    from nanochat_lit.chat_data import MathProblems
    from nanochat_lit.common import base_dir
    from nanochat_lit.gpt import build_model, config_from_depth
    from nanochat_lit.midtrain import supervised_loss
    from nanochat_lit.sft import PaddedConversations
    from nanochat_lit.tokenizer import Tokenizer
    base = tmp_path_factory.mktemp('stages')
    (base_dir()/'tasks').mkdir(parents=True, exist_ok=True)
    (base/'tasks').symlink_to(base_dir()/'tasks', target_is_directory=True)  # the task data cached by the notebooks
    problems = MathProblems('train', size=100)
    texts = [part['text'] if isinstance(m['content'], list) else m['content'] for i in range(len(problems))
             for m in problems[i]['messages'] for part in (m['content'] if isinstance(m['content'], list) else [m])]
    tokenizer = Tokenizer.train(texts, vocab_size=400)
    torch.manual_seed(0)
    model = build_model(config_from_depth(2, tokenizer.vocab_size, aspect_ratio=32, head_dim=32, sequence_len=256), 'cpu')
    for stage in ('base', 'mid'): _save(base, stage, 'tiny', model, tokenizer, 0)
    solutions = next(PaddedConversations(problems[:RL_PROMPTS], tokenizer, batch_size=RL_PROMPTS, seq_len=256))
    fit = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(100):
        supervised_loss(model, solutions).backward()
        fit.step(); fit.zero_grad()
    _save(base, 'sft', 'tiny', model, tokenizer, 0)
    return base


def losses(base, stage, tag):
    lines = (base/'checkpoints'/stage/tag/'metrics.jsonl').read_text().splitlines()
    return {r['step']: r['loss'] for r in map(json.loads, lines) if 'loss' in r}


def source_of(stage): return {'mid': 'base', 'sft': 'mid', 'rl': 'sft'}[stage]


@pytest.mark.parametrize('stage', ['mid', 'sft', 'rl'])
def test_sigkill_then_resume_matches_uninterrupted_run(stages, stage):
    steps, save_every = STEPS[stage], SAVE_EVERY[stage]
    args = ['--stage', stage, '--source', source_of(stage), *COMMON, *TINY[stage], *BATCH[stage], '--num-iterations', str(steps),
            '--save-every', str(save_every)]
    run('nanochat_lit_train', *args, '--model-tag', 'whole', base=stages)
    process = subprocess.Popen([str(SCRIPTS/'nanochat_lit_train'), *args, '--model-tag', 'killed'], env=env(stages),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_checkpoint = stages/'checkpoints'/stage/'killed'/f'step_{save_every:06d}'
    deadline = time.time() + 300
    while not first_checkpoint.exists() and process.poll() is None and time.time() < deadline: time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = sorted(p.name for p in (stages/'checkpoints'/stage/'killed').glob('step_*'))
    assert done and done[-1] < f'step_{steps:06d}', f'the run was not killed before it finished: {done}'
    run('nanochat_lit_train', *args, '--model-tag', 'killed', '--resume', base=stages)
    whole, resumed = losses(stages, stage, 'whole'), losses(stages, stage, 'killed')
    assert sorted(resumed) == list(range(1, steps + 1))
    assert resumed == whole  # bit-identical: the same conversations (RL: the same sampled replies), optimizer state and schedule
    assert sum(loss != 0 for loss in whole.values()) >= steps // 3, whole  # RL's loss is 0 when a group's rewards agree: not always


@pytest.mark.parametrize('stage', ['mid', 'sft', 'rl'])
def test_two_processes_match_one_on_the_same_global_batch(stages, stage):
    args = ['--stage', stage, '--source', source_of(stage), *COMMON, *TINY[stage], *BATCH[stage], '--num-iterations', '6', '--save-every', '0']
    run('nanochat_lit_train', *args, '--model-tag', 'one', base=stages)
    two = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', '-m', 'nanochat_lit.train',
                          *args, '--model-tag', 'two'], capture_output=True, text=True, env=env(stages), timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    one, two = losses(stages, stage, 'one'), losses(stages, stage, 'two')
    assert sorted(one) == sorted(two) == list(range(1, 7))
    assert any(loss != 0 for loss in one.values()), one
    for step in one: assert one[step] == pytest.approx(two[step], rel=1e-4), (step, one[step], two[step])


def test_bad_input(stages, tmp_path):
    only_base = tmp_path/'only_base'
    _copy = lambda stage: (only_base/'checkpoints').mkdir(parents=True, exist_ok=True) or \
        (only_base/'checkpoints'/stage).symlink_to(stages/'checkpoints'/stage, target_is_directory=True)
    _copy('base')
    (only_base/'tasks').symlink_to(stages/'tasks', target_is_directory=True)
    zigzag = tmp_path/'mine.jsonl'
    zigzag.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'
                      '{"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "again"}]}\n')
    cases = [(['--stage', 'sft', '--data', 'offline', '--device', 'cpu'], only_base, f"no mid checkpoints under {only_base/'checkpoints'/'mid'}"),
             (['--stage', 'mid', *COMMON, '--custom', str(zigzag)], stages, f"{zigzag}:2: message 1 has role 'user' where 'assistant' was expected"),
             (['--stage', 'mid', *COMMON, '--tasks', ''], stages, 'the mixture is empty'),
             (['--stage', 'mid', *COMMON, '--tasks', 'Alpaca,Poetry'], stages, "unknown task 'Poetry' in --tasks"),
             (['--stage', 'sft', *COMMON, '--data', 'web'], stages, "data='web' is not one of auto, hub, offline"),
             (['--stage', 'mid', *COMMON, '--languages', 'en,fr'], stages, "languages='en,fr' is not a comma-separated list of en, zh")]
    for args, base, message in cases:
        result = run('nanochat_lit_train', *args, base=base, check=False)
        assert result.returncode == 2 and message in result.stderr, (args, result.returncode, result.stderr[-2000:])
        assert 'Traceback' not in result.stderr


@pytest.mark.parametrize('stage', ['mid', 'sft'])
def test_chinese_conversations(stages, stage):
    "--languages zh trains on chapter 8's Chinese parts (demos, identity, chapter 11a's exams) and records it; en,zh lists both mixtures."
    args = ['--stage', stage, '--source', source_of(stage), *COMMON, *TINY[stage], *BATCH[stage], '--save-every', '0']
    plan = run('nanochat_lit_train', *args, '--languages', 'en,zh', '--dry-run', base=stages).stdout
    assert 'Alpaca, ' in plan and 'Alpaca-zh, ToolCalls-zh, Identity-zh, ZhDictionary, ZhPoetry, ZhIdioms' in plan, plan
    run('nanochat_lit_train', *args, '--languages', 'zh', '--num-iterations', '3', '--model-tag', 'zh', base=stages)
    assert sorted(losses(stages, stage, 'zh')) == [1, 2, 3]
    meta = json.loads(next((stages/'checkpoints'/stage/'zh').glob('step_*/meta*.json')).read_text())
    assert meta['settings']['languages'] == 'zh' and meta['settings']['maker'] is None, meta['settings']


@pytest.fixture
def cuda_only_group(tmp_path, monkeypatch):
    """A one-process gloo group registered only for CUDA tensors: on this CPU machine it refuses CPU tensors with the error NCCL gives
    (NCCL, torchrun's backend on GPUs, has no CPU tensors), while tensors on the meta device pass through as no-ops. Yields the device
    type of every tensor handed to `all_reduce`."""
    import torch.distributed as dist
    dist.init_process_group('cuda:gloo', store=dist.FileStore(str(tmp_path/'store'), 1), rank=0, world_size=1)
    with pytest.raises(RuntimeError, match='No backend type associated with device type cpu'): dist.all_reduce(torch.zeros(1))
    devices, real = [], dist.all_reduce
    monkeypatch.setattr(dist, 'all_reduce', lambda tensor, *args, **kwargs: devices.append(tensor.device.type) or real(tensor, *args, **kwargs))
    try: yield devices
    finally: dist.destroy_process_group()


def test_stage_collectives_run_on_the_model_device(cuda_only_group):
    """What RL sums over ranks lives on the model's device, as NCCL requires. The model here is on the meta device, so
    the sum passes the group; reading its value afterwards fails, as only a meta tensor's can (on a GPU that is where the counts come back)."""
    from types import SimpleNamespace
    from nanochat_lit.rl import evaluate_pass_at_k, rollout_stats
    meta = torch.device('meta')
    reading_meta = pytest.raises((NotImplementedError, RuntimeError), match='meta')
    tokenizer = SimpleNamespace(render_for_completion=lambda conversation: [1, 2], decode=lambda ids: '#### 4')
    engine = SimpleNamespace(model=SimpleNamespace(embed=SimpleNamespace(weight=torch.empty(1, device=meta))), tokenizer=tokenizer,
                             context=64, generate_batch=lambda prompt, n, **sampling: ([[5]] * n, [[1]] * n))
    problems = type('Problems', (), {'__len__': lambda self: 2, '__getitem__': lambda self, i: {'messages': []},
                                     'evaluate': lambda self, conversation, reply: True})()
    with reading_meta: evaluate_pass_at_k(engine, problems, num_samples=2, max_tokens=8)
    with reading_meta: rollout_stats([SimpleNamespace(rewards=[1.0, 0.0], reply_tokens=[3, 5])], meta)
    assert cuda_only_group == ['meta'] * 2, cuda_only_group
