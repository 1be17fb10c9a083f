"""The data loader shared among ranks: simulated in one process, and two real processes under torchrun with gloo.

Run as a script (by torchrun, from `test_two_process_gloo`), this file is the worker: `python -m torch.distributed.run
--standalone --nproc_per_node=2 tests/test_dataloader_distributed.py DIR` writes DIR/rank{r}.json for each rank."""
import json, random, subprocess, sys
from pathlib import Path

import pytest, torch

BATCH, SEQ = 2, 32

def make_data(root:Path):
    "A dataset of 400 numbered documents in row groups of 16, and a small tokenizer, under `root`."
    from nanochat_lit.dataset import write_shards
    from nanochat_lit.tokenizer import Tokenizer
    rng = random.Random(0)
    words = 'the a data model token shard row group loader batch train learn read write text file rank world'.split()
    docs = [f'document {i}: ' + ' '.join(rng.choice(words) for _ in range(rng.randint(3, 120))) for i in range(400)]
    write_shards(docs, root/'data', val_fraction=0.1, row_group_docs=16)
    Tokenizer.train(docs, 300).save(root/'tokenizer')

def epoch_record(root:Path, rank=None, world_size=None) -> dict:
    "What one rank packs in one epoch of the training split: document addresses, batch count, first batch."
    from nanochat_lit.dataloader import DataLoader
    from nanochat_lit.tokenizer import Tokenizer
    tokenizer = Tokenizer.load(root/'tokenizer')
    loader = DataLoader(tokenizer, 'train', BATCH, SEQ, root/'data', 'cpu', rank=rank, world_size=world_size, epochs=1, tokenizer_threads=1)
    seen, add = [], loader.packer.add
    loader.packer.add = lambda doc_id, tokens: (seen.append(list(doc_id)), add(doc_id, tokens))
    batches = [inputs for inputs, _ in loader]
    assert all((b[:, 0] == tokenizer.bos_token_id).all() for b in batches)
    return dict(rank=loader.rank, world_size=loader.world_size, documents=seen, batches=len(batches), first=batches[0].tolist())

@pytest.fixture(scope='module')
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp('dist_data')
    make_data(root)
    return root

def check_partition(records:list[dict], whole:dict):
    "The ranks' documents are disjoint and together are exactly the single process's."
    sets = [set(map(tuple, r['documents'])) for r in records]
    for i, a in enumerate(sets):
        assert len(a) == len(records[i]['documents'])  # no rank sees a document twice in one epoch
        for b in sets[i + 1:]: assert not a & b
    assert sorted(sum((r['documents'] for r in records), [])) == sorted(whole['documents'])
    assert all(r['batches'] > 0 for r in records)

@pytest.mark.parametrize('world_size', [2, 3, 40])  # 40 ranks > 23 row groups: document by document
def test_simulated_ranks_partition_the_data(root, world_size):
    from nanochat_lit.dataloader import DocumentStream
    assert DocumentStream(root/'data', 'train', 0, world_size).by_row_group == (world_size < 40)
    records = [epoch_record(root, r, world_size) for r in range(world_size)]
    check_partition(records, epoch_record(root, 0, 1))

def test_two_process_gloo(root, tmp_path):
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', __file__, str(root), str(tmp_path)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env={**__import__('os').environ, 'OMP_NUM_THREADS': '1'})
    assert run.returncode == 0, run.stderr[-3000:]
    records = [json.loads((tmp_path/f'rank{r}.json').read_text()) for r in (0, 1)]
    assert [(r['rank'], r['world_size']) for r in records] == [(0, 2), (1, 2)]  # taken from the process group, not passed in
    assert records[0]['first'] != records[1]['first']
    assert all(r['total_documents'] == len(records[0]['documents']) + len(records[1]['documents']) for r in records)
    check_partition(records, epoch_record(root, 0, 1))

if __name__ == '__main__':  # the worker, under torchrun
    import torch.distributed as dist
    from nanochat_lit.common import setup_distributed, teardown_distributed
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    info = setup_distributed('cpu')
    record = epoch_record(root)  # rank and world size from torch.distributed
    count = torch.tensor([len(record['documents'])])
    dist.all_reduce(count)
    record['total_documents'] = int(count.item())
    (out/f'rank{info.rank}.json').write_text(json.dumps(record))
    teardown_distributed()
