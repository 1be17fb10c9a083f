"Run by tests/test_core_eval.py under torchrun: scores a small random GPT on fixture CORE tasks and writes the result."
import json, random, sys
import torch
from nanochat_lit.common import setup_distributed, teardown_distributed
from nanochat_lit.core_eval import CoreTask, evaluate_core
from nanochat_lit.gpt import GPTConfig, build_model

class ByteTokenizer:
    bos_token_id = 256
    def encode(self, text, prepend=None):
        if isinstance(text, list): return [self.encode(t, prepend) for t in text]
        return [prepend] * (prepend is not None) + list(text.encode())

def fixture_tasks(n=13):  # odd sizes, so the ranks get unequal stripes
    rng = random.Random(0)
    words = ['apple', 'brick', 'cloud', 'drum', 'eagle', 'fern']
    mc = [{'query': f'Item {i}:', 'choices': rng.sample(words, 3), 'gold': rng.randrange(3)} for i in range(n)]
    schema = [{'context_options': [f'{a} met {b}', f'{b} met {a}'], 'continuation': f'on day {i}.', 'gold': rng.randrange(2)}
              for i, (a, b) in enumerate(rng.sample(words, 2) for _ in range(n + 2))]
    lm = [{'context': f'{i} {i + 1}', 'continuation': f'{i + 2}'} for i in range(n - 4)]
    return [CoreTask('arc_easy', 'multiple_choice', 2, 0.25, ' ', mc), CoreTask('winogrande', 'schema', 1, 0.5, ' ', schema),
            CoreTask('squad', 'language_modeling', 0, 0.0, ' ', lm)]

info = setup_distributed('cpu')
torch.manual_seed(0)
model = build_model(GPTConfig(vocab_size=257, sequence_len=32, n_layer=2, model_dim=64, head_dim=32), 'cpu').eval()
with torch.no_grad():  # a fresh GPT's blocks are inert (zero output projections), which ties the options of schema items exactly
    for p in model.parameters(): p.add_(0.05 * torch.randn_like(p))
result = evaluate_core(model, ByteTokenizer(), tasks=fixture_tasks(), batch_size=int(sys.argv[2]), progress=False)
if info.rank == 0:
    with open(sys.argv[1], 'w') as f: json.dump(result, f)
teardown_distributed()
