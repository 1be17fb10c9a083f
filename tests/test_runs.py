"The GPU recipes cannot run here, so CI runs their dry runs: the full configuration resolved and checked."
import os, re, subprocess
from pathlib import Path

from nanochat_lit.zh_recipe import RECOMMENDED_PRESETS, recommend_settings

RUNS = Path(__file__).resolve().parents[1]/'runs'

def dry_run(script, **env):
    return subprocess.run(['bash', str(RUNS/script), '--dry-run'], capture_output=True, text=True, timeout=600, env={**os.environ, **env})

def test_speedrun_dry_run():
    result = dry_run('speedrun.sh')
    assert result.returncode == 0, result.stderr
    assert 'torchrun --standalone --nproc_per_node=8 -m nanochat_lit.train --preset h100x8' in result.stdout
    assert 'depth 24' in result.stdout and '16 rows x 2048 x 8 devices x 2 accumulation' in result.stdout
    assert 'memory per device' in result.stdout and 'vocab              32,768' in result.stdout
    # the GPT-2-grade speedrun: 8 tokens per matrix and LM-head parameter, at most 2.5 h at 45% MFU before FP8
    assert '(8.0 per matrix and LM head parameter)' in result.stdout, result.stdout
    hours = float(re.search(r'time\s+([\d.]+) h at 45% MFU', result.stdout)[1])
    assert hours <= 2.5, hours
    check_later_stages(result.stdout, 'speedrun')
    assert '-m nanochat_lit.chat_eval chat --stage sft --model-tag speedrun' in result.stdout
    check_report_around_stages(result.stdout)

def check_later_stages(stdout, tag, stages=('mid', 'sft', 'rl')):
    "Every later stage is in the recipe and planned, each starting from the one before."
    for stage, source in zip(stages, ('base', *stages)):
        assert f'--stage {stage} --source-tag {tag}' in stdout, stage
        assert re.search(rf'{stage} stage\n  from +{source}/{tag}\n', stdout), (stage, stdout)

def check_report_around_stages(stdout):
    "The report card is reset before the first stage and generated after the last."
    planned = [line.strip() for line in stdout.split('== dry run: would run\n')[1].split('\n==')[0].splitlines()]
    assert planned[0] == 'nanochat_lit_report reset' and planned[-1] == 'nanochat_lit_report generate', planned

def test_runcpu_resets_and_generates_the_report():
    "runcpu.sh has no dry run (it is the 30-minute CPU pipeline itself): its text resets the report first and generates it last."
    lines = (RUNS/'runcpu.sh').read_text().splitlines()
    stages = [i for i, line in enumerate(lines) if line.startswith('stage ')]
    assert lines.index('nanochat_lit_report reset') < stages[0]
    assert lines[stages[-1]] == 'stage report nanochat_lit_report generate'

def test_speedrun_dry_run_refuses_a_batch_that_does_not_divide():
    result = dry_run('speedrun.sh', NPROC='3')
    assert result.returncode == 2 and 'not a multiple of device_batch_size*max_seq_len*world_size=16*2048*3' in result.stderr, result.stderr

def test_laptop_dry_run():
    result = dry_run('laptop_gpu.sh')
    assert result.returncode == 0, result.stderr
    assert 'depth 8' in result.stdout and '8 rows x 512 x 1 devices x 16 accumulation' in result.stdout
    memory = float(result.stdout.split('memory per device  ~')[1].split()[0])
    assert memory < 6, f'the laptop-6gb preset must fit in 6 GB, estimated {memory} GiB'
    check_later_stages(result.stdout, 'laptop')
    check_report_around_stages(result.stdout)

def test_chinese_dry_run():
    "The Chinese speedrun plans the zh preset, which is what chapter 11b's decision tree recommends for 8×H100."
    recommended = recommend_settings(**RECOMMENDED_PRESETS['zh'])
    result = dry_run('chinese.sh')
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"-m nanochat_lit.train --preset zh --run dummy --matrix-lr {recommended['matrix_lr']} --data-dir" in out, out
    assert f"depth {recommended['depth']}," in out and f"vocab              {recommended['vocab_size']:,}" in out
    assert '(25.0 per matrix and LM head parameter)' in out, out
    hours = float(re.search(r'time\s+([\d.]+) h at 45% MFU', out)[1])
    assert hours <= RECOMMENDED_PRESETS['zh']['hours'], hours
    # the text it needs: characters and shards at 25 tokens per parameter, with chapter 11's measured characters per token
    assert f"{recommended['tokens']:,} tokens = {recommended['characters']:,} characters (25 tokens per parameter)" in out, out
    assert re.search(rf"shards +{recommended['shards']} ", out) and f"chars/token              {recommended['chars_per_token']:.3f} (chapter 11's study" in out, out
    for stage in ('mid', 'sft'): assert f'--stage {stage} --source-tag zh --languages en,zh' in out, stage
    assert '-m nanochat_lit.chat_eval chat --stage sft --model-tag zh -a ARC-Easy,MMLU,GSM8K,ZhDictionary,ZhPoetry,ZhIdioms,C-Eval,CMMLU' in out
    check_later_stages(out, 'zh', stages=('mid', 'sft'))
    assert '--stage rl' not in out
    check_report_around_stages(out)

def test_slurm_launches_one_torchrun_per_node_with_the_first_node_as_rendezvous(tmp_path):
    "runs/slurm.sh under stand-ins for SLURM's scontrol and srun: the command srun receives, and the errors before it."
    bin_dir = tmp_path/'bin'; bin_dir.mkdir()
    (bin_dir/'scontrol').write_text('#!/bin/sh\n[ "$1 $2" = "show hostnames" ] && printf "gpu-node-07\\ngpu-node-08\\n"\n')
    (bin_dir/'srun').write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/srun_args\n')
    for tool in bin_dir.iterdir(): tool.chmod(0o755)
    slurm = {'PATH': f"{bin_dir}:{os.environ['PATH']}", 'SLURM_JOB_NODELIST': 'gpu-node-[07-08]', 'SLURM_NNODES': '2',
             'SLURM_GPUS_ON_NODE': '8', 'SLURM_JOB_ID': '4242', 'SLURM_SUBMIT_DIR': str(RUNS.parent), 'NANOCHAT_LIT_BASE_DIR': '/shared/nanochat'}
    result = subprocess.run(['bash', str(RUNS/'slurm.sh'), '--preset', 'h100x8', '--model-tag', 'two-nodes'], capture_output=True,
                            text=True, timeout=60, env={**os.environ, **slurm})
    assert result.returncode == 0, result.stderr
    args = (tmp_path/'srun_args').read_text().split()
    assert args[:3] == ['--ntasks-per-node=1', '--kill-on-bad-exit=1', '--export=ALL']
    launcher = args[args.index('.venv/bin/python'):]
    assert launcher[:3] == ['.venv/bin/python', '-m', 'torch.distributed.run']
    assert {'--nnodes=2', '--nproc_per_node=8', '--rdzv_backend=c10d', '--rdzv_endpoint=gpu-node-07:29500', '--rdzv_id=4242'} <= set(launcher)
    assert launcher[-6:] == ['-m', 'nanochat_lit.train', '--preset', 'h100x8', '--model-tag', 'two-nodes']
    for missing, message in (('NANOCHAT_LIT_BASE_DIR', 'every node mounts'), ('SLURM_JOB_NODELIST', 'submit it with sbatch')):
        env = {k: v for k, v in {**os.environ, **slurm}.items() if k != missing}
        refused = subprocess.run(['bash', str(RUNS/'slurm.sh')], capture_output=True, text=True, timeout=60, env=env)
        assert refused.returncode != 0 and message in refused.stderr, refused.stderr
