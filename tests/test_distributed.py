"The distributed helpers of nanochat_lit.common, in two CPU processes launched by torchrun."
import json, subprocess, sys
from pathlib import Path

WORKER = Path(__file__).with_name('dist_worker.py')

def _run(tmp_path, *base_dirs):
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', str(WORKER), str(tmp_path), *map(str, base_dirs)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)

def test_two_process_gloo(tmp_path):
    run = _run(tmp_path, tmp_path/'shared', tmp_path/'shared')
    assert run.returncode == 0, run.stderr
    ranks = [json.loads((tmp_path/f'rank{r}.json').read_text()) for r in (0, 1)]
    for r, got in enumerate(ranks):
        assert got == dict(rank=r, local_rank=r, world_size=2, is_distributed=True, is_master=r == 0,
                           backend='gloo', sum=3.0)
    assert run.stdout.count('print0 from rank') == 1 and 'print0 from rank 0' in run.stdout
    assert '[rank 0] INFO info from rank 0' in run.stderr
    assert 'info from rank 1' not in run.stderr  # other ranks log warnings only
    assert '[rank 1] WARNING warning from rank 1' in run.stderr
    assert not list((tmp_path/'shared').glob('.shared-check-*'))  # rank 0 removed its token

def test_ranks_that_cannot_see_rank_0s_base_dir_stop_at_start_up(tmp_path):
    run = _run(tmp_path, tmp_path/'node0', tmp_path/'node1')  # two "nodes", each with its own disk
    assert run.returncode != 0
    errors = [(tmp_path/f'error{r}.txt').read_text() for r in (0, 1)]
    for error in errors: assert 'rank 1 cannot see the base directory rank 0 uses' in error and 'NANOCHAT_LIT_BASE_DIR' in error
    assert not list(tmp_path.glob('rank*.json'))  # neither rank got past set-up


def test_evaluation_collectives_use_the_model_device(tmp_path, monkeypatch):
    """NCCL has no CPU backend, so a CPU tensor handed to a collective of a GPU run fails. A gloo group registered for the cuda
    device type only refuses CPU tensors with NCCL's error, and lets meta tensors through as no-ops; a model on the meta device
    and a rank with no items (more ranks than items) then reach the collective without computing anything. Reading the meta
    result back is as far as a CPU machine can go, so that is where each evaluation must stop."""
    import pytest, torch, torch.distributed as dist
    from nanochat_lit.chat_eval import evaluate_categorical, evaluate_generative
    from nanochat_lit.engine import Engine
    from nanochat_lit.gpt import build_model, config_from_depth
    from nanochat_lit.loss_eval import evaluate_bpb
    from nanochat_lit.tasks import Task, TaskView
    from nanochat_lit.tokenizer import Tokenizer
    tokenizer = Tokenizer.train(['the model answers the question with a letter or a number. '] * 20, vocab_size=300)
    model = build_model(config_from_depth(1, tokenizer.vocab_size, aspect_ratio=64, head_dim=32, sequence_len=64), 'cpu').to('meta')
    no_items = TaskView(Task(), [])
    text = torch.zeros(2, 8, dtype=torch.long, device='meta')
    evaluations = {'evaluate_categorical': lambda: evaluate_categorical(model, tokenizer, no_items),
                   'evaluate_generative': lambda: evaluate_generative(Engine(model, tokenizer), no_items),
                   'evaluate_bpb': lambda: evaluate_bpb(model, iter([(text, text)]), 1, torch.ones(tokenizer.vocab_size, dtype=torch.long, device='meta'))}
    handed, all_reduce = [], dist.all_reduce
    def spy(tensor, *args, **kwargs):
        handed.append(tensor.device.type)
        return all_reduce(tensor, *args, **kwargs)
    monkeypatch.setattr(dist, 'all_reduce', spy)
    dist.init_process_group('cuda:gloo', init_method=f"file://{tmp_path/'store'}", rank=0, world_size=1)
    try:
        for name, evaluate in evaluations.items():
            handed.clear()
            with pytest.raises((RuntimeError, NotImplementedError), match='meta') as failure:
                evaluate()
            assert handed and set(handed) == {'meta'}, (name, handed, str(failure.value)[:200])
    finally: dist.destroy_process_group()
