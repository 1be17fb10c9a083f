"""Mid-training's loss mask on the CPU pipeline: loss on the assistant's tokens only (as SFT) against loss on every real token (as
nanochat's scripts/mid_train.py of January 2026), each followed by the pipeline's SFT.

From the pipeline's base model (--base-tag, trained by runs/runcpu.sh), each variant in --variants runs runs/runcpu.sh's mid-training
command with `--loss-on VARIANT --model-tag mid-VARIANT`, then its SFT command (`--lr-frac 0.2`) from that tag, under the same tag.
--measure also measures runs already in the base dir, by tag (e.g. a copy of an older pipeline's mid and SFT checkpoints). For every
run it appends one JSON line to --results:

- mid val bpb on the assistant's tokens and on every real token, both on the same packed validation batches of the offline mixture
  (what `train_mid` evaluates: the cpu preset's 8 rows of the full context, 262,144 tokens or one pass if the mixture is smaller);
- SFT val loss per supervised token on the whole offline SFT validation mixture, and the last val_loss the SFT run logged;
- tool use: greedy replies of the mid and SFT models to --problems held-out math problems (chapter 7c's held-out templates): how
  many call the calculator, how many write calculator output themselves (a sampled <|output_start|> or <|output_end|>, tokens only
  the engine should write), and how many are right;
- the answers of `nanochat_lit_chat --stage sft --temperature 0 --max-tokens 96` to the pipeline's two questions, as printed;
- the wall time of each training command this script ran.

    .venv/bin/python bench/mid_loss_mask.py --base-tag cpu-d4                  # both variants, then measure them
    .venv/bin/python bench/mid_loss_mask.py --variants '' --measure before     # only measure runs already there
"""
import json, subprocess, sys, time
from pathlib import Path

import torch

from nanochat_lit.common import ConfigError, DistInfo, run_cli
from nanochat_lit.checkpoint import load_model
from nanochat_lit.loss_eval import evaluate_bpb
from nanochat_lit.engine import Engine
from nanochat_lit.chat_data import MathProblems
from nanochat_lit.train import read_metrics
from nanochat_lit.midtrain import LOSS_ON, CHAT_PROMPTS, PackedConversations, build_mixture, mid_parts
from nanochat_lit.sft import PaddedConversations, sft_evaluator, sft_parts

SCRIPTS = Path(sys.executable).parent
MID = ['--stage', 'mid', '--preset', 'cpu', '--data', 'offline']  # runs/runcpu.sh's commands, less the tags
SFT = ['--stage', 'sft', '--preset', 'cpu', '--data', 'offline', '--lr-frac', '0.2']
QUESTIONS = CHAT_PROMPTS[:2]  # the two questions runs/runcpu.sh asks

def timed(*args:str) -> float:
    "Run a console script of this environment; its wall time in seconds."
    start = time.perf_counter()
    subprocess.run([str(SCRIPTS/args[0]), *args[1:]], check=True)
    return time.perf_counter() - start

@torch.no_grad()
def mid_val_bpb(model, tokenizer, batch_size:int=8, eval_tokens:int=262_144) -> dict:
    "{loss_on: val bpb} of a model on the offline mid-training validation mixture, on the same packed batches for each definition."
    mixture, T, bytes_ = build_mixture(mid_parts('val', 'offline'), validation=True), model.config.sequence_len, tokenizer.token_bytes()
    result = {}
    for loss_on in LOSS_ON:
        loader = PackedConversations(mixture, tokenizer, batch_size, T, 'cpu', loss_on=loss_on)
        steps = min(eval_tokens // (batch_size * T), max(1, loader.epoch_batches()))
        result[loss_on] = evaluate_bpb(model, iter(loader), steps, bytes_)
    return result

def sft_val_loss(model, tokenizer, batch_size:int=4) -> float:
    "Loss per supervised token on the whole offline SFT validation mixture."
    mixture = build_mixture(sft_parts('val', 'offline'), validation=True)
    steps = PaddedConversations(mixture, tokenizer, batch_size, model.config.sequence_len).epoch_batches()
    return sft_evaluator(mixture, tokenizer, model, batch_size, steps, DistInfo(), [], 0)()['val_loss']

def tool_use(model, tokenizer, problems:int, max_tokens:int=128) -> dict:
    "Greedy replies to held-out math problems: how many call the calculator, write its output themselves, and are right."
    engine, task = Engine(model, tokenizer), MathProblems('test', size=problems)
    special = {tokenizer.encode_special(name): name for name in ('<|python_start|>', '<|output_start|>', '<|output_end|>')}
    counts = {'problems': problems, 'calculator_calls': 0, 'self_written_output': 0, 'right': 0}
    for i in range(problems):
        conversation = task[i]
        tokens, masks = engine.generate_batch(tokenizer.render_for_completion(conversation), max_tokens=max_tokens, temperature=0.0)
        sampled = {special[t] for t, m in zip(tokens[0], masks[0]) if m and t in special}
        counts['calculator_calls'] += '<|python_start|>' in sampled
        counts['self_written_output'] += bool(sampled & {'<|output_start|>', '<|output_end|>'})
        counts['right'] += bool(task.evaluate(conversation, tokenizer.decode(tokens[0])))
    return counts

def answers(tag:str) -> dict:
    "What `nanochat_lit_chat` prints for the pipeline's two questions (greedy, as runs/runcpu.sh asks them)."
    return {q: subprocess.run([str(SCRIPTS/'nanochat_lit_chat'), '--stage', 'sft', '--model-tag', tag, '--temperature', '0', '--max-tokens', '96',
                               '-p', q], check=True, capture_output=True, text=True).stdout.strip() for q in QUESTIONS}

def measure(tag:str, problems:int) -> dict:
    "Every figure of one run: its mid and SFT checkpoints under `tag`."
    record = {'tag': tag}
    for stage in ('mid', 'sft'):
        model, tokenizer, meta = load_model(stage, tag, device='cpu')
        logged = [r for r in read_metrics(Path(meta['path']).parent/'metrics.jsonl') if r.get('val_bpb' if stage == 'mid' else 'val_loss') is not None]
        if stage == 'mid':
            record['loss_on'] = meta['settings'].get('loss_on', 'all')  # mid-training before the mask trained on every token
            record['mid_val_bpb'], record['mid_logged_val_bpb'] = mid_val_bpb(model, tokenizer), logged[-1]['val_bpb']
            record['mid_learning_rates'] = meta.get('learning_rates')
        else:
            record['sft_val_loss'], record['sft_logged_val_loss'] = sft_val_loss(model, tokenizer), logged[-1]['val_loss']
        record[f'{stage}_tool_use'] = tool_use(model, tokenizer, problems)
    record['answers'] = answers(tag)
    return record

def compare(base_tag:str='cpu-d4', # the pipeline's base run, which every variant starts from
            variants:str='assistant,all', # mid-training's loss_on values to train and measure ('' for none)
            measure_tags:str='', # runs already in the base dir to measure too (their mid and SFT share a tag)
            problems:int=50, # held-out math problems for the tool-use counts
            results:str='bench/results/mid_loss_mask_cpu.jsonl', # JSON lines, one per measured run
           ):
    "Train mid-training with each loss mask and SFT after it, then measure them (and any runs named by --measure-tags)."
    chosen = [v.strip() for v in variants.split(',') if v.strip()]
    if unknown := [v for v in chosen if v not in LOSS_ON]: raise ConfigError(f"unknown variant {unknown[0]!r}; use {', '.join(LOSS_ON)}")
    tags = {}
    for variant in chosen:
        tag = f'mid-{variant}'
        wall = {'mid': timed('nanochat_lit_train', *MID, '--source-tag', base_tag, '--loss-on', variant, '--model-tag', tag),
                'sft': timed('nanochat_lit_train', *SFT, '--source-tag', tag)}
        tags[tag] = wall
    tags.update({t.strip(): None for t in measure_tags.split(',') if t.strip()})
    for tag, wall in tags.items():
        record = {**measure(tag, problems), 'wall_seconds': wall}
        with open(results, 'a') as f: f.write(json.dumps(record) + '\n')
        print(json.dumps(record, indent=1))

if __name__ == '__main__': run_cli(compare)
