"""Generation speed of a trained checkpoint: the engine's KV cache (chapter 6) and the chat session's kept cache (chapter 12)
against recomputing the whole context, all in one process on one model, interleaved A,B,A,B.

(a) tokens/s for `new_tokens` new tokens, batch 1: `Engine.generate` (KV cache) against `GPT.generate` (no cache);
(b) aggregate tokens/s of `Engine.generate` with `batch_size` samples of the prompt against batch 1;
(c) time to the first token (prefill of the prompt + one sampled token), cached engine against the uncached path;
(d) time to the first reply token on each turn of a conversation: `ChatSession` keeping its cache against a fresh cache that
    re-reads the whole history.
Both sides get the same prompt, seed and sampling; the engine's stop tokens are switched off, so every row runs to the full length.
Times are end to end (prefill included). Targets (depth-4 `cpu` model, 2 CPU cores): cached >= 8x uncached, batch 8 >= 4x batch 1.

    .venv/bin/python bench/engine.py                      # base model cpu-d4 (bash runs/runcpu.sh)
    .venv/bin/python bench/engine.py --rounds 5 --new-tokens 128 --stage sft --model-tag d20
"""
import math, statistics, time

import torch

from nanochat_lit.chat import ChatSession, prompt_tokens as chat_prompt
from nanochat_lit.checkpoint import load_model
from nanochat_lit.common import ConfigError, run_cli
from nanochat_lit.engine import Engine

# Ordinary English (ASCII, so any slice of its tokens decodes to whole characters), repeated for prompts and user messages.
TEXT = ("The harbour town woke before the sun. Fishing boats slid out past the breakwater while the bakers on the hill pulled "
        "the first loaves from their ovens, and the smell of bread drifted down to the quay. By seven the market was full: "
        "farmers from the valley sold apples, cheese and eggs, and a woman with a cart of flowers called out prices that "
        "nobody believed. Children ran between the stalls on their way to school. At the end of the pier an old man mended "
        "nets, as he had every morning for forty years, and told anyone who stopped that the weather would turn by noon. "
        "It usually did.")

TARGETS = {'cached / uncached': 8.0, 'batch 8 / batch 1': 4.0}  # from the issue, for the depth-4 cpu model on 2 cores


def text_tokens(tokenizer, n:int, offset:int=0) -> list[int]:
    "`n` token ids of `TEXT` repeated, starting `offset` tokens in."
    copies = math.ceil((offset + n) / len(tokenizer.encode(TEXT))) + 1
    return tokenizer.encode(' '.join([TEXT] * copies))[offset:offset + n]

def run_stream(stream) -> tuple[float, float, list]:
    "Seconds to the first item, seconds to the end, and the items of an iterator."
    start, first, items = time.perf_counter(), None, []
    for item in stream:
        items.append(item)
        if first is None: first = time.perf_counter() - start
    return first, time.perf_counter() - start, items

def seconds_to_first(stream) -> float:
    "Seconds until an iterator gives its first item; the rest is never computed."
    start = time.perf_counter()
    next(stream)
    seconds = time.perf_counter() - start
    stream.close()
    return seconds

def rounds_text(values, fmt='{:,.0f}'): return ', '.join(fmt.format(v) for v in values)

def target_text(name:str, ratio:float) -> str:
    return f"target {name} >= {TARGETS[name]:g}x: {'met' if ratio >= TARGETS[name] else 'NOT met'} (median {ratio:.1f}x)"

def agreement(a:list, b:list) -> str:
    "How many positions of two token lists agree, and where they first differ."
    same = sum(x == y for x, y in zip(a, b))
    first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
    return f"{same}/{len(a)} tokens agree" + ('' if first is None else f" (first difference at position {first})")

def bench_throughput(model, engine, prompt:list, new_tokens:int, batch_size:int, rounds:int, temperature:float, seed:int):
    "(a) cached against uncached, batch 1; (b) batch `batch_size` against batch 1: tokens/s of whole generations."
    sampling = dict(temperature=temperature, seed=seed)
    def uncached(): return list(model.generate(prompt, new_tokens, **sampling))
    def cached(n): return list(engine.generate(prompt, n, max_tokens=new_tokens, **sampling))
    uncached_rates, cached_rates, batch_rates = [], [], []
    for _ in range(rounds):  # A, B, C, A, B, C: the drift of a shared machine hits every side alike
        start = time.perf_counter(); ids = uncached(); uncached_rates.append(len(ids) / (time.perf_counter() - start))
        start = time.perf_counter(); steps = cached(1); cached_rates.append(len(steps) / (time.perf_counter() - start))
        start = time.perf_counter(); batch = cached(batch_size)
        batch_rates.append(sum(t is not None for s in batch for t in s.tokens) / (time.perf_counter() - start))
        assert len(ids) == len(steps) == len(batch) == new_tokens and all(None not in s.tokens for s in batch), \
            (len(ids), len(steps), len(batch), new_tokens)
    speedups = [c / u for c, u in zip(cached_rates, uncached_rates)]
    batch_gains = [b / c for b, c in zip(batch_rates, cached_rates)]
    print(f"(a) {new_tokens} new tokens after a {len(prompt)}-token prompt, batch 1, prefill included:")
    print(f"    uncached GPT.generate:  median {statistics.median(uncached_rates):>8,.1f} tok/s   rounds: {rounds_text(uncached_rates, '{:,.1f}')}")
    print(f"    cached Engine.generate: median {statistics.median(cached_rates):>8,.1f} tok/s   rounds: {rounds_text(cached_rates, '{:,.1f}')}")
    print(f"    cached / uncached: median {statistics.median(speedups):.1f}x   rounds: {rounds_text(speedups, '{:.1f}')}")
    greedy = agreement(list(model.generate(prompt, new_tokens, temperature=0)),
                       [s.tokens[0] for s in engine.generate(prompt, max_tokens=new_tokens, temperature=0)])
    print(f"    greedy (temperature 0): {greedy} between the two sides")
    print(f"    {target_text('cached / uncached', statistics.median(speedups))}")
    print(f"(b) Engine.generate, {batch_size} samples of the prompt x {new_tokens} tokens each (every row to the full length) against batch 1:")
    print(f"    batch {batch_size}: median {statistics.median(batch_rates):>8,.1f} tok/s aggregate   rounds: {rounds_text(batch_rates, '{:,.1f}')}")
    print(f"    batch {batch_size} / batch 1: median {statistics.median(batch_gains):.1f}x   rounds: {rounds_text(batch_gains, '{:.1f}')}")
    if batch_size == 8: print(f"    {target_text('batch 8 / batch 1', statistics.median(batch_gains))}")
    else: print(f"    (the target of {TARGETS['batch 8 / batch 1']:g}x is for batch 8; this run used {batch_size})")

def bench_first_token(model, engine, prompt:list, new_tokens:int, rounds:int, repeats:int, temperature:float, seed:int):
    "(c) seconds to the first token of a new prompt: the prefill plus one sample, cached engine against the uncached path."
    uncached, cached = [], []
    for _ in range(rounds):  # per round the median of `repeats` tries of each, interleaved
        u, c = [], []
        for _ in range(repeats):
            u.append(seconds_to_first(model.generate(prompt, new_tokens, temperature=temperature, seed=seed)))
            c.append(seconds_to_first(engine.generate(prompt, max_tokens=new_tokens, temperature=temperature, seed=seed)))
        uncached.append(statistics.median(u)); cached.append(statistics.median(c))
    ratios = [u / c for u, c in zip(uncached, cached)]
    print(f"(c) time to first token, {len(prompt)}-token prompt (prefill + 1 sampled token), median of {repeats} per round:")
    print(f"    uncached: median {statistics.median(uncached) * 1e3:7.1f} ms   rounds: {rounds_text([s * 1e3 for s in uncached], '{:.1f}')}")
    print(f"    cached:   median {statistics.median(cached) * 1e3:7.1f} ms   rounds: {rounds_text([s * 1e3 for s in cached], '{:.1f}')}")
    print(f"    uncached / cached: median {statistics.median(ratios):.2f}x   rounds: {rounds_text(ratios, '{:.2f}')} "
          f"(both read the whole prompt once: a cache only pays from the second token on)")

def bench_chat(engine, turns:int, user_tokens:int, reply_tokens:int, rounds:int, temperature:float, seed:int):
    "(d) seconds to the first reply token on each turn: `ChatSession` keeping its cache against a fresh cache re-reading the history."
    tokenizer, context = engine.tokenizer, engine.context
    if not user_tokens:  # as long as 100 tokens, but the whole conversation, replies included, fits the model's context
        user_tokens = min(100, (context - reply_tokens) // turns - reply_tokens - 8)
    if user_tokens < 1:
        raise ConfigError(f"turns={turns} with reply_tokens={reply_tokens} leave no room for user messages in the model's context of "
                          f"{context} tokens; lower turns or reply_tokens")
    texts = [tokenizer.decode(text_tokens(tokenizer, user_tokens, offset=turn * user_tokens)).strip() for turn in range(turns)]
    sampling = dict(max_tokens=reply_tokens, temperature=temperature, seed=seed)
    kept, fresh = [[] for _ in range(turns)], [[] for _ in range(turns)]
    history, prefilled = [0] * turns, [0] * turns
    for _ in range(rounds):
        session = ChatSession(engine, **sampling)
        for turn, text in enumerate(texts):
            before = list(session.messages), list(session.tokens)
            prompt = chat_prompt(engine, [{'role': 'user', 'content': text}], reply_tokens, history=session.tokens)  # what session.send prompts with
            if len(prompt) + reply_tokens > context:
                raise ConfigError(f"turn {turn + 1} of the conversation is {len(prompt)} tokens and with reply_tokens={reply_tokens} "
                                  f"overflows the model's context of {context}; lower turns, user_tokens or reply_tokens")
            history[turn], prefilled[turn] = len(prompt), len(prompt) - session.cache.reusable(prompt)
            first, _, _ = run_stream(session.send(text))  # A: the kept cache; the whole reply, which the next turn builds on
            kept[turn].append(first)
            other = ChatSession(engine, **sampling)  # B: the same conversation so far, with a new, empty cache
            other.messages, other.tokens = before
            fresh[turn].append(seconds_to_first(other.send(text)))
    print(f"(d) chat, {turns} turns of ~{user_tokens}-token user messages and {reply_tokens}-token replies (context {context}): "
          f"time to the first reply token, median of {rounds} rounds")
    print(f"    {'turn':>4} {'history':>8} {'prefilled (kept)':>17} {'kept cache':>11} {'fresh cache':>12} {'fresh / kept':>13}")
    for turn in range(turns):
        k, f = statistics.median(kept[turn]), statistics.median(fresh[turn])
        ratio = statistics.median([b / a for a, b in zip(kept[turn], fresh[turn])])
        print(f"    {turn + 1:>4} {history[turn]:>8} {prefilled[turn]:>17} {k * 1e3:>8.1f} ms {f * 1e3:>9.1f} ms {ratio:>12.2f}x")
    ratios = [b / a for a, b in zip(kept[-1], fresh[-1])]
    print(f"    turn {turns}: the fresh cache re-reads {history[-1]} tokens, the kept one {prefilled[-1]}; fresh / kept: median "
          f"{statistics.median(ratios):.2f}x   rounds: {rounds_text(ratios, '{:.2f}')}")

def bench(stage:str='base', # base, mid, sft or rl
          model_tag:str='cpu-d4', # which run of the stage
          step:int=None, # which saved step; default: the latest
          device:str=None, # cpu, cuda or mps; default: autodetected
          rounds:int=5, # interleaved rounds (medians and ratios are over these)
          new_tokens:int=256, # tokens generated per row in (a) and (b)
          prompt_tokens:int=256, # the prompt's length in (a), (b) and (c)
          batch_size:int=8, # samples of one prompt in (b)
          ttft_repeats:int=5, # first-token timings per side and round in (c)
          turns:int=8, # turns of the conversation in (d)
          user_tokens:int=0, # tokens per user message in (d); 0: up to 100, as many as the model's context allows
          reply_tokens:int=16, # tokens per reply in (d)
          temperature:float=1.0, # sampling temperature of every side
          seed:int=42, # the sampler's seed of every side
         ):
    "Tokens/s and time to first token of the cached engine against uncached generation, batch against batch 1, and a chat session's kept cache against a fresh one."
    model, tokenizer, meta = load_model(stage, model_tag, step, device)
    engine = Engine(model, tokenizer)
    engine.stop_tokens = set()  # every row runs to the full length, as GPT.generate does
    context = model.config.sequence_len
    if prompt_tokens + new_tokens > context:
        raise ConfigError(f"prompt_tokens={prompt_tokens} + new_tokens={new_tokens} is more than the model's context of {context}; "
                          f"lower one of them")
    prompt = [tokenizer.bos_token_id] + text_tokens(tokenizer, prompt_tokens - 1)
    config, device = model.config, model.embed.weight.device
    print(f"{meta['stage']} model {meta['path']}: depth {config.n_layer}, {config.model_dim} wide, vocab {config.vocab_size:,}, "
          f"context {context}, {model.parameter_counts()['total'] / 1e6:.2f}M params | {device}, {model.activation_dtype}, "
          f"{torch.get_num_threads()} torch threads")
    print(f"{rounds} interleaved rounds after an untimed warm-up, temperature {temperature}, seed {seed}, the same prompt on every side; "
          f"stop tokens disabled on the engine (Engine.stop_tokens = set()): every row generates exactly its max tokens")
    for n in (1, batch_size): list(engine.generate(prompt, n, max_tokens=new_tokens, seed=seed))  # warm-up at full length, not timed:
    list(model.generate(prompt, new_tokens, seed=seed))  # the first pass through each new shape costs up to a quarter more
    bench_throughput(model, engine, prompt, new_tokens, batch_size, rounds, temperature, seed)
    bench_first_token(model, engine, prompt, new_tokens, rounds, ttft_repeats, temperature, seed)
    bench_chat(engine, turns, user_tokens, reply_tokens, rounds, temperature, seed)

if __name__ == '__main__': run_cli(bench)
