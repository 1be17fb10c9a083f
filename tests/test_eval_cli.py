"nanochat_lit_eval chat as a person runs it: a table and a CSV, clear errors, and the same scores with 1 and 2 torchrun processes."
import csv, os, shutil, subprocess, sys

from conftest import SCRIPTS


def run(base, *args, **env):
    return subprocess.run([*args], capture_output=True, text=True, timeout=600, env={**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(base), **env})


def scores(base, *launcher):
    done = run(base, *launcher, 'chat', '-a', 'ARC-Easy,SpellingBee', '--max-per-task', '6', '--max-tokens', '24', '--device', 'cpu')
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    path = next((base/'checkpoints'/'sft'/'memorized').glob('step_*'))/'chat_eval.csv'
    return done.stdout, list(csv.DictReader(path.open()))


def test_table_csv_and_torchrun(memorized_base):
    out, alone = scores(memorized_base, SCRIPTS/'nanochat_lit_eval')
    assert '| ARC-Easy |' in out and '| ChatCORE (partial, 2 of 6 tasks) |' in out and '| ChatCORE |' not in out and 'chat_eval.csv' in out
    *tasks, chatcore = alone
    assert [r['task'] for r in tasks] == ['ARC-Easy', 'SpellingBee'] and all(0 <= float(r['accuracy']) <= 1 for r in tasks)
    assert all(r['items'] == '6' and 0 <= float(r['±2σ']) <= 2 * 0.5 / 6 ** 0.5 + 1e-4 for r in tasks)  # 2·sqrt(p(1-p)/n) is at most 1/sqrt(n)
    assert chatcore['task'] == 'ChatCORE (partial, 2 of 6 tasks)' and abs(float(chatcore['centered']) - sum(float(r['centered']) for r in tasks) / 2) < 1e-4
    _, together = scores(memorized_base, sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
                         '-m', 'nanochat_lit.chat_eval')
    assert together == alone


def test_bad_input(memorized_base):
    for args, message in ((['-a', 'ARC-Medium'], 'valid tasks: ARC-Easy'), (['--max-per-task', '0'], 'max_per_task=0'),
                          (['--stage', 'rl'], 'no rl checkpoints')):
        done = run(memorized_base, SCRIPTS/'nanochat_lit_eval', 'chat', *args)
        assert done.returncode == 2 and message in done.stderr and 'Traceback' not in done.stderr, (args, done.stderr[-1500:])
    done = run(memorized_base, SCRIPTS/'nanochat_lit_eval', 'base', '--max-per-task', '0')  # CORE takes base models
    assert done.returncode == 2 and 'no base checkpoints' in done.stderr, done.stderr[-1500:]
    done = run(memorized_base, SCRIPTS/'nanochat_lit_eval', 'rate')
    assert done.returncode == 2 and 'one of base, chat' in done.stderr


def test_base_model_report(memorized_base, tmp_path):
    (tmp_path/'checkpoints'/'base').mkdir(parents=True)
    shutil.copytree(memorized_base/'checkpoints'/'sft'/'memorized', tmp_path/'checkpoints'/'base'/'memorized')  # a model is a model
    done = run(tmp_path, SCRIPTS/'nanochat_lit_eval', 'base', '--tasks', 'copa', '--max-per-task', '4', '--source', 'offline')
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert 'bits per byte skipped' in done.stdout and 'CORE-offline (1 of 22 tasks)' in done.stdout, done.stdout
    assert done.stdout.count('  sample: ') == 5 and 'not scored: ' in done.stdout and '(not asked for)' in done.stdout
    report = next((tmp_path/'checkpoints'/'base'/'memorized').glob('step_*'))/'core_eval.csv'
    assert [r['metric'] for r in csv.DictReader(report.open())] == ['copa', 'CORE-offline (1 of 22 tasks)']


def test_chinese_exams(memorized_base, tmp_path):
    "Chapter 11a's stand-ins by name, offline, like any other chat task; C-Eval offline is an error that names them."
    from nanochat_lit.common import base_dir
    shutil.copytree(memorized_base/'checkpoints', tmp_path/'checkpoints')
    (base_dir()/'tasks').mkdir(parents=True, exist_ok=True)
    (tmp_path/'tasks').symlink_to(base_dir()/'tasks', target_is_directory=True)  # the task data the notebooks cached
    exams = ['ZhDictionary', 'ZhPoetry', 'ZhIdioms']
    done = run(tmp_path, SCRIPTS/'nanochat_lit_eval', 'chat', '-a', ','.join(exams), '--max-per-task', '6', '--device', 'cpu')
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert all(f'| {name} |' in done.stdout for name in exams) and 'ChatCORE' not in done.stdout, done.stdout  # not ChatCORE's tasks
    rows = list(csv.DictReader(next((tmp_path/'checkpoints'/'sft'/'memorized').glob('step_*')).joinpath('chat_eval.csv').open()))
    assert [r['task'] for r in rows] == exams and all(0 <= float(r['accuracy']) <= 1 and r['baseline'] == '0.25' for r in rows)
    done = run(tmp_path, SCRIPTS/'nanochat_lit_eval', 'chat', '-a', 'C-Eval', '--device', 'cpu', HF_HUB_OFFLINE='1')
    assert done.returncode == 2 and 'ZhDictionary, ZhPoetry, ZhIdioms' in done.stderr and 'Traceback' not in done.stderr, done.stderr[-2000:]
