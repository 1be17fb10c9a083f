"MuonAdamW in two CPU processes launched by torchrun ends where one process ends on the same global batch, each rank keeping its share of the state; the loss scaler skips a step on both ranks or on neither."
import subprocess, sys
from pathlib import Path

import torch

STEPS, GLOBAL_BATCH, SEQ_LEN, VOCAB = 6, 8, 32, 128

def make_model():
    "A 3-layer GPT with every parameter group: 12 square matrices, 3 up and 3 down projections (3 is odd, so the"
    "two-rank Muon stack needs padding), 2 value gates, value embeddings, LM head and scalars."
    from nanochat_lit.common import seed_everything
    from nanochat_lit.gpt import build_model, config_from_depth
    seed_everything(0)
    model = build_model(config_from_depth(3, VOCAB, aspect_ratio=32, head_dim=32, sequence_len=SEQ_LEN, value_embeds=True), 'cpu')
    # Start from weights with no exact zeros, as after some training. At the real initialisation every block is the
    # identity and the final RMSNorm removes any overall scale, so the gradients of the residual scalars are zero
    # up to float rounding, and AdamW (eps=1e-10) turns that rounding noise into steps of +-lr whose signs differ
    # between one process and two. That is a property of the model at step 0, not of the distributed optimizer.
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for block in model.blocks:
            for layer in (block.attn.proj, block.mlp.down, block.attn.value_gate):
                if layer is not None: layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) / layer.in_features**0.5)
        model.lm_head.weight.normal_(std=0.02, generator=generator)
    return model

def train(model, rank=0, world_size=1, ns_dtype='float32'):
    "`STEPS` optimizer steps; this rank computes gradients on its slice of each global batch."
    from nanochat_lit.gpt import synthetic_tokens
    from nanochat_lit.optim import setup_optimizers
    optimizer = setup_optimizers(model, embedding_lr=0.1, unembedding_lr=0.01, matrix_lr=0.02, weight_decay=0.1,
                                 ns_dtype=getattr(torch, ns_dtype))
    per_rank = GLOBAL_BATCH // world_size
    for step in range(STEPS):
        batch = synthetic_tokens(GLOBAL_BATCH, SEQ_LEN, vocab_size=VOCAB, seed=step)[rank * per_rank:(rank + 1) * per_rank]
        # every row has SEQ_LEN targets, so the mean of the ranks' mean losses is the global-batch mean loss
        model(batch[:, :-1], batch[:, 1:]).backward()
        optimizer.step()
        model.zero_grad(set_to_none=True)
    return model, optimizer

def worker(out_dir:str, ns_dtype:str):
    "Run by torchrun in each process: train on this rank's half of every batch and save the parameters."
    from nanochat_lit.common import setup_distributed, teardown_distributed
    torch.set_num_threads(1)
    info = setup_distributed('cpu')
    assert info.world_size == 2 and torch.distributed.get_backend() == 'gloo'
    model, optimizer = train(make_model(), info.rank, info.world_size, ns_dtype)
    torch.save(model.state_dict(), Path(out_dir)/f'rank{info.rank}.pt')
    names = {p: name for name, p in model.named_parameters()}
    moments = {names[p]: (tuple(state['exp_avg'].shape), tuple(state['exp_avg_sq'].shape)) for p, state in optimizer.state.items() if 'exp_avg' in state}
    torch.save(moments, Path(out_dir)/f'moments{info.rank}.pt')
    teardown_distributed()

def loss_scaler_worker(out_dir:str):
    "Run by torchrun in each process: three loss-scaled steps, where only rank 1 finds an inf in a gradient at the second; save what each rank did."
    from nanochat_lit.common import setup_distributed, teardown_distributed
    from nanochat_lit.gpt import synthetic_tokens
    from nanochat_lit.optim import LossScaler, setup_optimizers
    torch.set_num_threads(1)
    info = setup_distributed('cpu')
    model = make_model()
    optimizer, scaler, stepped, weights = setup_optimizers(model), LossScaler(), [], []
    for step in range(3):
        batch = synthetic_tokens(GLOBAL_BATCH, SEQ_LEN, vocab_size=VOCAB, seed=step)[info.rank::2]
        scaler.scale_loss(model(batch[:, :-1], batch[:, 1:])).backward()
        # block 0's up-projection is in rank 0's shard of Muon's stack: after the reduce-scatter only rank 0 would see this inf
        if step == 1 and info.rank == 1: model.blocks[0].mlp.up.weight.grad[0, 0] = float('inf')
        stepped.append(scaler.step(optimizer))
        model.zero_grad(set_to_none=True)
        weights.append({name: p.detach().clone() for name, p in model.named_parameters()})
    torch.save({'stepped': stepped, 'scale': scaler.scale, 'weights': weights}, Path(out_dir)/f'rank{info.rank}.pt')
    teardown_distributed()

def run_two(tmp_path, *args):
    "Run this file under torchrun in two processes with `args`."
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', __file__, str(tmp_path), *args]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr

def launch(tmp_path, ns_dtype):
    "Train in two processes under torchrun; return both ranks' final parameters."
    run_two(tmp_path, ns_dtype)
    ranks = [torch.load(tmp_path/f'rank{r}.pt') for r in (0, 1)]
    check_adamw_shards(ranks[0], [torch.load(tmp_path/f'moments{r}.pt') for r in (0, 1)])
    for name in ranks[0]:
        # the ranks apply identical AdamW updates and copy the same gathered Muon matrices: bitwise equal
        assert torch.equal(ranks[0][name], ranks[1][name]), name
    return ranks[0]

def check_adamw_shards(params, moments):
    "ZeRO-2: each rank keeps AdamW moments for its half of every large tensor (first dimension even), and whole moments of the small ones."
    sharded = {name for name, p in params.items() if p.numel() >= 1024 and p.shape[0] % 2 == 0}
    assert {'embed.weight', 'lm_head.weight'} <= sharded and any(name.startswith('value_embeds.') for name in sharded), sorted(sharded)
    for rank_moments in moments:
        assert set(rank_moments) == {name for name in params if not is_muon(name)}, sorted(rank_moments)
        for name, shapes in rank_moments.items():
            shape = params[name].shape
            expected = (shape[0] // 2, *shape[1:]) if name in sharded else tuple(shape)
            assert shapes == (expected, expected), (name, shapes, tuple(shape))

def is_muon(name): return name.startswith('blocks.')

def test_two_processes_match_one(tmp_path):
    "With Newton-Schulz in float32, two processes reproduce one process on the same global batch."
    distributed = launch(tmp_path, 'float32')
    torch.set_num_threads(1)
    single, start = train(make_model(), ns_dtype='float32')[0].state_dict(), make_model().state_dict()
    for name, expected in single.items():
        assert not torch.equal(expected, start[name]), f'{name} never changed: the test could not see a bug in it'
        # Not bitwise: averaging two half-batch mean gradients rounds differently from one full-batch mean (~1e-7
        # relative). Muon's float32 update follows that smoothly (measured ~1e-7 after 6 steps), so 1e-5 is tight.
        # AdamW divides by sqrt(v): for embedding rows whose gradient is nearly zero (rare tokens, cancelling
        # contributions) rounding noise can change the step by up to lr=0.1; measured worst ~1e-3 over 6 steps,
        # so 5e-3 there, while a wrong shard, a skipped exchange or a dropped group moves parameters by >= 1e-2.
        torch.testing.assert_close(distributed[name], expected, rtol=0, atol=1e-5 if is_muon(name) else 5e-3, msg=name)

def test_two_processes_bfloat16(tmp_path):
    "With the production bfloat16 Newton-Schulz, the ranks agree exactly and Muon's matrices stay close to one process."
    distributed = launch(tmp_path, 'bfloat16')
    torch.set_num_threads(1)
    single, start = train(make_model(), ns_dtype='bfloat16')[0].state_dict(), make_model().state_dict()
    for name, expected in single.items():
        if not is_muon(name): continue
        # bfloat16 rounding of slightly different inputs flips last bits (2^-8 relative), and the iteration amplifies
        # such changes along small singular directions (by up to a^5 = 3.4445^5 ~ 500), so one process and two agree
        # only to a few percent of how far the weights moved (measured ~3%). A bug would give differences ~100%.
        moved = (expected - start[name]).abs().max()
        assert (distributed[name] - expected).abs().max() < 0.15 * moved, name

def test_loss_scaler_skips_on_every_rank(tmp_path):
    "An overflow that one rank alone sees skips the step on both ranks (the flag is all-reduced); both halve the scale and keep equal weights."
    run_two(tmp_path, 'loss_scaler')
    ranks = [torch.load(tmp_path/f'rank{r}.pt') for r in (0, 1)]
    for rank in ranks:
        assert rank['stepped'] == [True, False, True] and rank['scale'] == 2.0**15, rank['stepped']
        for name, before in rank['weights'][0].items(): assert torch.equal(rank['weights'][1][name], before), name  # skipped: unchanged
        assert not torch.equal(rank['weights'][2]['blocks.0.mlp.up.weight'], rank['weights'][1]['blocks.0.mlp.up.weight'])
    for step in range(3):
        for name, weight in ranks[0]['weights'][step].items(): assert torch.equal(weight, ranks[1]['weights'][step][name]), (step, name)

if __name__ == '__main__':
    if sys.argv[2] == 'loss_scaler': loss_scaler_worker(sys.argv[1])
    else: worker(sys.argv[1], sys.argv[2])
