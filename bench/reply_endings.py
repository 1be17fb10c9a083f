"""How replies end: greedy replies of a trained checkpoint to the first `count` problems of GSM8K's test split (shuffled with
`seed`), each counted by how it ended: the stop token it ended with, or at the `max_tokens` limit. It also counts, per reply,
the first special token other than the calculator's four, which is where a reply leaves its own turn (chapter 6's stop tokens).

Run it with two checkouts' engines to compare them; the script only uses `Engine.generate` and `Engine.stop_tokens`:

    .venv/bin/python bench/reply_endings.py --stage rl --model-tag cpu-d4
    PYTHONPATH=<another checkout> .venv/bin/python bench/reply_endings.py --stage rl --model-tag cpu-d4
"""
import random, time
from collections import Counter

import torch

from nanochat_lit.checkpoint import load_model
from nanochat_lit.common import run_cli
from nanochat_lit.engine import Engine
from nanochat_lit.tasks import GSM8K

# spelled out rather than imported from the engine, so that the script also runs with an engine from before `turn_stop_tokens`
TOOL_TOKENS = ('<|python_start|>', '<|python_end|>', '<|output_start|>', '<|output_end|>')

def reply_endings(engine:Engine, prompts:list, max_tokens:int=128) -> tuple[Counter, Counter, list]:
    "(how each greedy reply ended, the first non-tool special token in each reply, the replies' token ids); 'limit' where there is none."
    names = {i: name for name, i in engine.tokenizer.special_tokens.items()}
    leaves_turn = {i for i, name in names.items() if name not in TOOL_TOKENS}
    endings, first_special, replies = Counter(), Counter(), []
    for prompt in prompts:
        reply = [step.tokens[0] for step in engine.generate(prompt, max_tokens=max_tokens, temperature=0)]
        endings[names[reply[-1]] if reply[-1] in engine.stop_tokens else 'limit'] += 1
        first_special[next((names[t] for t in reply if t in leaves_turn), 'limit')] += 1
        replies.append(reply)
    return endings, first_special, replies

def share(counts:Counter, *keys) -> str:
    n = sum(counts.values())
    return f"{sum(counts[k] for k in keys)}/{n} = {sum(counts[k] for k in keys) / n:.0%}"

def bench(stage:str='rl', # base, mid, sft or rl
          model_tag:str='cpu-d4', # which run of the stage
          step:int=None, # which saved step; default: the latest
          count:int=50, # problems (replies)
          max_tokens:int=128, # the longest reply
          seed:int=42, # shuffles GSM8K test before the first `count` are taken
          show:int=3, # replies printed in full
          device:str='cpu',
         ):
    "Print how greedy replies to GSM8K test problems end, with the engine of the `nanochat_lit` that Python imports."
    import nanochat_lit
    model, tokenizer, meta = load_model(stage, model_tag, step, device)
    engine = Engine(model, tokenizer)
    task = GSM8K('test', 'offline')
    order = list(range(len(task)))
    random.Random(seed).shuffle(order)
    prompts = [tokenizer.render_for_completion(task[i]) for i in order[:count]]
    start = time.perf_counter()
    endings, first_special, replies = reply_endings(engine, prompts, max_tokens)
    names = {i: name for name, i in tokenizer.special_tokens.items()}
    print(f"engine of {nanochat_lit.__file__}; stop tokens: {', '.join(sorted(names[i] for i in engine.stop_tokens))}")
    print(f"{meta['stage']} model {meta['path']}: {count} greedy replies to GSM8K test (shuffled, seed {seed}), max_tokens {max_tokens}, "
          f"{time.perf_counter() - start:.0f} s")
    print(f"  ended with <|assistant_end|>: {share(endings, '<|assistant_end|>')}")
    print(f"  ended with any stop token:    {share(endings, *(n for n in endings if n != 'limit'))}")
    print(f"  ran to the token limit:       {share(endings, 'limit')}")
    print(f"  how they ended:               {dict(endings.most_common())}")
    print(f"  first non-tool special token: {dict(first_special.most_common())}")
    for reply in replies[:show]: print(f"  reply: {tokenizer.decode(reply)!r}")

if __name__ == '__main__':
    torch.set_grad_enabled(False)
    run_cli(bench)
