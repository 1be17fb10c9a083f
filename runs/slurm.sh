#!/usr/bin/env bash
#SBATCH --job-name=nanochat_lit
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=96
#SBATCH --exclusive
#SBATCH --time=04:00:00
#SBATCH --output=%x-%j.out
# Several nodes under SLURM: one torchrun launcher per node (srun starts them), each starting one process per GPU; the
# launchers meet through a c10d rendezvous on the job's first node. Any nanochat_lit_train flags follow the script:
#   sbatch runs/slurm.sh --preset h100x8 --model-tag d24-2nodes
#   sbatch --nodes=4 runs/slurm.sh --preset h100x8 --stage mid --source-tag d24-2nodes
# Before submitting: the checkout and its .venv (runs/setup.sh) at the same path on every node, the tokenizer trained and the
# dataset prepared (runs/speedrun.sh shows how), and NANOCHAT_LIT_BASE_DIR on a file system every node mounts: rank 0 writes
# data and checkpoints there for all ranks, and each rank checks at start-up that it sees them.
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/..}"
: "${NANOCHAT_LIT_BASE_DIR:?set NANOCHAT_LIT_BASE_DIR to a directory that every node mounts (a network file system) before sbatch}"
: "${SLURM_JOB_NODELIST:?runs/slurm.sh runs inside a SLURM allocation: submit it with sbatch}"
head_node=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
gpus_per_node=${SLURM_GPUS_ON_NODE:-8}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}
echo "== ${SLURM_NNODES} nodes x ${gpus_per_node} GPUs, rendezvous on ${head_node}:${RDZV_PORT:-29500}, base directory ${NANOCHAT_LIT_BASE_DIR}"
srun --ntasks-per-node=1 --kill-on-bad-exit=1 --export=ALL \
  .venv/bin/python -m torch.distributed.run --nnodes="$SLURM_NNODES" --nproc_per_node="$gpus_per_node" \
    --rdzv_backend=c10d --rdzv_endpoint="${head_node}:${RDZV_PORT:-29500}" --rdzv_id="$SLURM_JOB_ID" \
    -m nanochat_lit.train "$@"
