"Checkpoints written by two CPU processes launched by torchrun: their sizes are what the dry run predicts, and a slow disk on one rank does not time out the others."
import json, os, subprocess, sys, time
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path

import pytest, torch

PRESET = dict(vocab_size=8192, depth=4, aspect_ratio=32, head_dim=64, max_seq_len=512)  # the cpu preset's model: d4
SLOW_SECONDS, TIMEOUT_SECONDS = 6, 2  # a write slower than the process group's timeout


def write_d4_checkpoint(directory:Path, rank:int):
    "One optimizer step of the cpu preset's d4 model and recipe on this rank's rows of a batch, then a checkpoint."
    from nanochat_lit.checkpoint import rng_state, save_checkpoint
    from nanochat_lit.gpt import build_model, config_from_depth, synthetic_tokens
    from nanochat_lit.optim import setup_optimizers
    from nanochat_lit.train import MODEL_RECIPE, OPTIMIZER_RECIPE
    config = config_from_depth(PRESET['depth'], PRESET['vocab_size'], aspect_ratio=PRESET['aspect_ratio'], head_dim=PRESET['head_dim'],
                               sequence_len=PRESET['max_seq_len'], **MODEL_RECIPE)
    torch.manual_seed(0)
    model = build_model(config, 'cpu')
    optimizer = setup_optimizers(model, **OPTIMIZER_RECIPE)
    batch = synthetic_tokens(4, 64, vocab_size=PRESET['vocab_size'], seed=0)[2 * rank:2 * rank + 2]
    model(batch[:, :-1], batch[:, 1:]).backward()
    optimizer.step()
    save_checkpoint(directory, 1, model.state_dict(), optimizer.state_dict(), {'model_config': asdict(config)},
                    {'loaders': [], 'rng': rng_state(), 'loss_ema': 0.0})


def worker(out:str, mode:str):
    "Run by torchrun in each process."
    import torch.distributed as dist
    torch.set_num_threads(1)
    rank = int(os.environ['RANK'])
    if mode == 'sizes':
        dist.init_process_group('gloo')
        write_d4_checkpoint(Path(out)/'checkpoints', rank)
    else:  # 'slow0' or 'slow1': that rank's disk takes longer than the process group's timeout to write a checkpoint
        dist.init_process_group('gloo', timeout=timedelta(seconds=TIMEOUT_SECONDS))
        from nanochat_lit import checkpoint
        if rank == int(mode[-1]):
            real_save = torch.save
            def slow_save(*args, **kwargs):
                time.sleep(SLOW_SECONDS / 2)  # two files per rank (rank 0: four): at least SLOW_SECONDS in all
                real_save(*args, **kwargs)
            checkpoint.torch.save = slow_save
        checkpoint.save_checkpoint(Path(out)/'checkpoints', 5, {'w': torch.ones(3)}, {'rank': rank}, {'step': 5}, {'rank': rank})
        total = torch.ones(1)
        dist.all_reduce(total)  # both ranks left the save together and the group still works
        (Path(out)/f'done{rank}.json').write_text(json.dumps({'sum': total.item()}))
    dist.destroy_process_group()


def launch(tmp_path, mode):
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', __file__, str(tmp_path), mode]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, 'OMP_NUM_THREADS': '1'})


def test_checkpoint_sizes_are_what_the_dry_run_says(tmp_path):
    "The dry run's figures (chapter 5b's `plan_checkpoint_and_exchange`) against the files two gloo processes write for the d4 model."
    from nanochat_lit.train import OPTIMIZER_RECIPE, plan_checkpoint_and_exchange, plan_training
    run = launch(tmp_path, 'sizes')
    assert run.returncode == 0, run.stderr[-3000:]
    written = tmp_path/'checkpoints'/'step_000001'
    plan = plan_training(PRESET['vocab_size'], 2, PRESET['depth'], PRESET['aspect_ratio'], PRESET['head_dim'], PRESET['max_seq_len'],
                         device_batch_size=8, total_batch_size=8192)
    figures = plan_checkpoint_and_exchange(plan, **OPTIMIZER_RECIPE)
    overhead = lambda path, predicted: path.stat().st_size - predicted  # pickle and zip headers: under 1 kB per tensor
    assert 0 <= overhead(written/'model.pt', figures['model']) < 64 * 1024
    for r in (0, 1): assert 0 <= overhead(written/f'optim_rank{r}.pt', figures['optimizer_per_rank']) < 64 * 1024
    # ZeRO-2: each rank saves half the AdamW moments, which dominate the optimizer state of this model
    assert figures['optimizer_per_rank'] < 0.6 * plan_checkpoint_and_exchange(replace(plan, world_size=1), **OPTIMIZER_RECIPE)['optimizer_per_rank']
    tensors = sum(f.stat().st_size for f in written.glob('*.pt') if not f.name.startswith('state_rank'))
    assert 0 <= tensors - figures['total'] < 3 * 64 * 1024


@pytest.mark.parametrize('slow_rank', [0, 1])
def test_a_slow_disk_does_not_time_out_the_save(tmp_path, slow_rank):
    "One rank takes longer to write its files than the process group's timeout; the other waits on files, not on a collective."
    run = launch(tmp_path, f'slow{slow_rank}')
    assert run.returncode == 0, run.stderr[-3000:]
    assert [json.loads((tmp_path/f'done{r}.json').read_text())['sum'] for r in (0, 1)] == [2.0, 2.0]
    saved = tmp_path/'checkpoints'/'step_000005'
    assert sorted(p.name for p in saved.iterdir()) == ['meta.json', 'model.pt', 'optim_rank0.pt', 'optim_rank1.pt', 'state_rank0.pt', 'state_rank1.pt']
    assert not list((tmp_path/'checkpoints').glob('.step_*'))  # no staging left behind


if __name__ == '__main__': worker(sys.argv[1], sys.argv[2])
