"""Two nodes on one machine: two torchrun launchers (--nnodes 2, one process each) meet through a c10d rendezvous on 127.0.0.1,
train like one process on the same global batch, and refuse to start when their base directories differ (disks of their own)."""
import socket, subprocess, sys

import pytest

from test_train import TINY, base, env, losses, run  # the module's tokenizer and dataset fixture, and its helpers

ARGS = [*TINY, '--total-batch-size', '1024', '--num-iterations', '8', '--save-every', '0', '--no-compile']


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def two_nodes(args:list, bases:tuple) -> list:
    "Start one launcher per node, as a cluster's scheduler would on two machines; return each one's (exit code, stderr)."
    port = free_port()
    launchers = [subprocess.Popen([sys.executable, '-m', 'torch.distributed.run', '--nnodes=2', f'--node_rank={node}', '--nproc_per_node=1',
                                   '--rdzv_backend=c10d', f'--rdzv_endpoint=127.0.0.1:{port}', '--rdzv_id=two-nodes',
                                   f'--rdzv_conf=is_host={int(node == 0)}', '-m', 'nanochat_lit.train', *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(node_base))
                 for node, node_base in enumerate(bases)]
    stderrs = [launcher.communicate(timeout=600)[1] for launcher in launchers]
    return [(launcher.returncode, stderr) for launcher, stderr in zip(launchers, stderrs)]


def test_two_nodes_match_one_process(base):
    args = [*ARGS, '--data-dir', str(base/'data')]
    run('nanochat_lit_train', *args, '--model-tag', 'one-node', base=base)
    launchers = two_nodes([*args, '--model-tag', 'two-nodes'], (base, base))
    assert all(code == 0 for code, _ in launchers), [stderr[-3000:] for _, stderr in launchers]
    one, two = losses(base, 'one-node'), losses(base, 'two-nodes')
    assert sorted(one) == sorted(two) == list(range(1, 9))
    for step in one: assert one[step] == pytest.approx(two[step], rel=1e-4), (step, one[step], two[step])


def test_two_nodes_with_their_own_disks_stop_at_start_up(base, tmp_path):
    launchers = two_nodes([*ARGS, '--data-dir', str(base/'data'), '--model-tag', 'split'], (base, tmp_path/'other_disk'))
    assert all(code != 0 for code, _ in launchers)
    stderr = ''.join(stderr for _, stderr in launchers)
    assert 'cannot see the base directory rank 0 uses' in stderr and 'NANOCHAT_LIT_BASE_DIR must be one directory that every node mounts' in stderr
    assert not (base/'checkpoints'/'base'/'split').exists()
