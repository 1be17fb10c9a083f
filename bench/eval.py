"""CORE scoring speed on the CPU d4 model: items/s of the batched scorer (`score_continuations`: an item's shared context run once
into a KV cache, logits only at the scored positions, items packed into padded batches) against one option per forward pass
(`score_sequences`, logits at every position), with the accuracies of both. Rounds alternate in one process so that both see the same machine state.

    python bench/eval.py --tasks hellaswag_zeroshot,copa,lambada_openai --items 40 --rounds 3
"""
import argparse, time
import torch
from nanochat_lit.checkpoint import load_model
from nanochat_lit.core_eval import core_tasks, evaluate_task

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument('--model-tag', default='cpu-d4')
parser.add_argument('--tasks', default='hellaswag_zeroshot,copa,lambada_openai', help='CORE task labels, comma-separated')
parser.add_argument('--items', type=int, default=40, help='items per task per round')
parser.add_argument('--rounds', type=int, default=3)
parser.add_argument('--batch-size', type=int, default=32)
parser.add_argument('--source', default='offline')
args = parser.parse_args()

torch.set_num_threads(torch.get_num_threads())
model, tokenizer, _ = load_model('base', args.model_tag, device='cpu')
tasks, _ = core_tasks(args.source, args.tasks.split(','), fetch_bigbench=False)
modes = {'batched': args.batch_size, 'one option at a time': 1}
seconds, accuracies = {m: 0.0 for m in modes}, {m: [] for m in modes}
for mode, batch_size in modes.items():  # untimed: lazy initialisation is not charged to whichever mode runs first
    for t in tasks: evaluate_task(model, tokenizer, t, 2, batch_size, progress=False)
for round_ in range(args.rounds):
    for mode, batch_size in modes.items():
        start = time.perf_counter()
        accuracies[mode] = [evaluate_task(model, tokenizer, t, args.items, batch_size, progress=False) for t in tasks]
        seconds[mode] += time.perf_counter() - start
items = args.rounds * args.items * len(tasks)
rates = {m: items / s for m, s in seconds.items()}
for mode in modes: print(f"{mode:>22}: {rates[mode]:7.1f} items/s  accuracies {[round(a, 4) for a in accuracies[mode]]}")
same = accuracies['batched'] == accuracies['one option at a time']
print(f"accuracies {'identical' if same else 'DIFFER (float rounding can flip a near tie; look at the items)'}")
print(f"speed-up: {rates['batched'] / rates['one option at a time']:.2f}x ({args.rounds} interleaved rounds of {args.items} items x {len(tasks)} tasks, "
      f"{torch.get_num_threads()} threads)")
