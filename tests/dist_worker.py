"Run by tests/test_distributed.py under torchrun: exercises nanochat_lit.common's distributed helpers."
import json, os, sys
import torch, torch.distributed as dist
from nanochat_lit.common import ConfigError, setup_distributed, teardown_distributed, print0, get_logger, get_rank

out, base_dirs = sys.argv[1], sys.argv[2:]  # base_dirs: one per rank, standing in for nodes with disks of their own
if base_dirs: os.environ['NANOCHAT_LIT_BASE_DIR'] = base_dirs[int(os.environ['RANK'])]
try: info = setup_distributed('cpu')
except ConfigError as e:
    with open(f"{out}/error{get_rank()}.txt", 'w') as f: f.write(str(e))
    sys.exit(2)
value = torch.tensor([float(info.rank + 1)])
dist.all_reduce(value)
print0(f"print0 from rank {get_rank()}")
get_logger('dist_test').info('info from rank %d', info.rank)
get_logger('dist_test').warning('warning from rank %d', info.rank)
with open(f"{out}/rank{info.rank}.json", 'w') as f:
    json.dump(dict(rank=info.rank, local_rank=info.local_rank, world_size=info.world_size,
                   is_distributed=info.is_distributed, is_master=info.is_master, backend=dist.get_backend(),
                   sum=value.item()), f)
teardown_distributed()
assert not dist.is_initialized()
