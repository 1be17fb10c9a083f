"""nanochat_lit_export as a person uses it: checkpoints that transformers loads, natively or with our modelling code (today's recipe,
in a process without nanochat_lit), bad input, and imports the chat CLI talks to."""
import os, subprocess

import pytest, torch

from conftest import SCRIPTS, _save

transformers = pytest.importorskip('transformers')


def run(base, script, *flags):
    return subprocess.run([SCRIPTS/script, *flags], capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'NANOCHAT_LIT_BASE_DIR': str(base)})


@pytest.fixture(scope='module')
def exportable(tmp_path_factory):
    """(base directory, model, tokenizer): an SFT run 'tiny' trained with --no-residual-scalars, a run 'scalars' with our default switches,
    runs 'qk' and 'backout' with recipe switches transformers' NanoChat cannot compute, a run 'rope' with nanochat's rotary base of
    100,000, a run 'unit-values' with the first value embeddings ('unit' gates) at that base, and a run 'recipe' with today's defaults (MODEL_RECIPE: sliding windows of 128 in a 256-token context, value embeddings,
    residual scalars, qk scale, smear, backout), every weight shaken so that every switch matters."""
    from nanochat_lit.gpt import build_model, config_from_depth
    from nanochat_lit.tokenizer import Tokenizer
    from nanochat_lit.train import MODEL_RECIPE
    base = tmp_path_factory.mktemp('export')
    tokenizer = Tokenizer.train(['Hugging Face loads what we export, 然后我们再读回来. ' * 40], vocab_size=300)
    torch.manual_seed(0)
    shape = dict(aspect_ratio=64, head_dim=32, n_kv_head=1, sequence_len=128)
    model = build_model(config_from_depth(2, tokenizer.vocab_size, residual_scalars=False, **shape), 'cpu')
    with torch.no_grad():
        for p in model.parameters(): p.add_(0.3 * torch.randn_like(p))
    _save(base, 'sft', 'tiny', model, tokenizer, 5)
    _save(base, 'sft', 'scalars', build_model(config_from_depth(2, tokenizer.vocab_size, **shape), 'cpu'), tokenizer, 5)
    for tag, switch in (('qk', dict(qk_scale=1.2)), ('backout', dict(backout=True)), ('rope', dict(rotary_base=100_000.0)),
                        ('unit-values', dict(value_embeds=True, value_embed_init='unit', rotary_base=100_000.0))):
        switched = build_model(config_from_depth(2, tokenizer.vocab_size, residual_scalars=False, **switch, **shape), 'cpu')
        switched.load_state_dict(model.state_dict(), strict=False)  # the same trained-looking weights
        _save(base, 'sft', tag, switched, tokenizer, 5)
    recipe = build_model(config_from_depth(4, tokenizer.vocab_size, aspect_ratio=32, head_dim=32, n_kv_head=2, sequence_len=256,
                                           **MODEL_RECIPE), 'cpu')
    with torch.no_grad():
        for p in recipe.parameters(): p.add_(0.3 * torch.randn_like(p))
    _save(base, 'sft', 'recipe', recipe, tokenizer, 5)
    return base, model.eval(), tokenizer


def test_export_loads_in_transformers(exportable):
    base, model, tokenizer = exportable
    done = run(base, 'nanochat_lit_export', '--stage', 'sft', '--model-tag', 'tiny', '--out', str(base/'hf'))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (base/'hf').iterdir()) == ['chat_template.jinja', 'config.json', 'generation_config.json',
                                                            'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']
    hf_model = transformers.AutoModelForCausalLM.from_pretrained(base/'hf', dtype=torch.float32)
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(base/'hf')
    messages = [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Load it, 然后读回来.'}]
    ids = hf_tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors='pt')['input_ids']
    assert ids[0].tolist() == tokenizer.render_for_completion({'messages': messages})
    with torch.no_grad(): assert (hf_model(ids).logits - model(ids)).abs().max() < 1e-4
    new = hf_model.generate(ids, max_new_tokens=20, do_sample=False)[0, ids.size(1):].tolist()
    ours = list(model.generate(ids[0].tolist(), len(new), temperature=0))
    assert new == ours


def test_rotary_base_exports(exportable, tmp_path):
    "nanochat's rotary base of 100,000 becomes rope_theta, and transformers computes the same logits."
    base, model, tokenizer = exportable
    done = run(base, 'nanochat_lit_export', '--stage', 'sft', '--model-tag', 'rope', '--out', str(tmp_path/'rope-hf'))
    assert done.returncode == 0, done.stderr
    hf_model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path/'rope-hf', dtype=torch.float32)
    assert hf_model.config.rope_parameters['rope_theta'] == 100_000.0
    from nanochat_lit.checkpoint import load_model
    with pytest.MonkeyPatch.context() as env:
        env.setenv('NANOCHAT_LIT_BASE_DIR', str(base))
        ours, _, _ = load_model('sft', 'rope', device='cpu')
    ids = torch.tensor([tokenizer.encode('Hugging Face loads what we export', prepend='<|bos|>')])
    with torch.no_grad(): assert (hf_model(ids).logits - ours(ids)).abs().max() < 1e-4


def test_refusals_and_bad_input(exportable, tmp_path):
    base, _, _ = exportable
    (tmp_path/'full').mkdir(); (tmp_path/'full'/'notes.txt').write_text('mine')
    cases = {('--stage', 'mid', '--out', str(tmp_path/'b')): 'no mid checkpoints',
             ('--stage', 'sft', '--model-tag', 'tiny', '--step', '9', '--out', str(tmp_path/'c')): 'available steps: 5',
             ('--stage', 'sft', '--model-tag', 'tiny', '--out', str(tmp_path/'full')): 'not an empty folder',
             ('--stage', 'sft',): 'exactly one of --out DIR',
             ('--from-hf', str(tmp_path/'nothing-here')): 'has no config.json'}
    for flags, message in cases.items():
        done = run(base, 'nanochat_lit_export', *flags)
        assert done.returncode == 2 and message in done.stderr and 'Traceback' not in done.stderr, (flags, done.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['full']  # nothing written, nothing half-written
    assert [p.name for p in (tmp_path/'full').iterdir()] == ['notes.txt']


def test_import_then_chat(exportable, tmp_path, monkeypatch):
    base, model, tokenizer = exportable
    assert run(base, 'nanochat_lit_export', '--stage', 'sft', '--model-tag', 'tiny', '--out', str(tmp_path/'tiny-hf')).returncode == 0
    done = run(base, 'nanochat_lit_export', '--from-hf', str(tmp_path/'tiny-hf'))
    assert done.returncode == 0, done.stderr
    assert 'checkpoints/sft/tiny-hf/step_000000' in done.stdout
    again = run(base, 'nanochat_lit_export', '--from-hf', str(tmp_path/'tiny-hf'))
    assert again.returncode == 2 and 'already has checkpoints' in again.stderr
    from nanochat_lit.checkpoint import load_model
    monkeypatch.setenv('NANOCHAT_LIT_BASE_DIR', str(base))
    imported, imported_tokenizer, _ = load_model('sft', 'tiny-hf', device='cpu')
    ids = torch.tensor([tokenizer.encode('Hugging Face loads what we export', prepend='<|bos|>')])
    with torch.no_grad(): assert torch.equal(imported(ids), model(ids))
    assert imported_tokenizer.mergeable_ranks == tokenizer.mergeable_ranks
    chat = run(base, 'nanochat_lit_chat', '--stage', 'sft', '--model-tag', 'tiny-hf', '-p', 'hi', '--temperature', '0', '--max-tokens', '8')
    assert chat.returncode == 0, chat.stderr


# A user who has transformers but not nanochat_lit: any import of our package fails, so the folder's own code must do everything.
WITHOUT_NANOCHAT_LIT = """
import json, sys, torch
sys.modules['nanochat_lit'] = None
from transformers import AutoModelForCausalLM
folder, prompts_file, new_tokens, out_file = sys.argv[1:]
model = AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True, dtype=torch.float32)
prompts = json.load(open(prompts_file))
with torch.no_grad(): logits = [model(torch.tensor([ids])).logits[0] for ids in prompts]
greedy = [model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long), max_new_tokens=int(new_tokens),
                         do_sample=False)[0, len(ids):].tolist() for ids in prompts]
torch.save({'class': type(model).__name__, 'logits': logits, 'greedy': greedy}, out_file)
"""


def test_todays_recipe_exports_with_its_own_code(exportable, tmp_path):
    """A model with today's defaults exports as a custom-code folder that transformers runs without nanochat_lit: the same float32
    logits, greedy generate gives our engine's tokens past the sliding window, and --from-hf gives back identical weights."""
    import json, sys
    from nanochat_lit.checkpoint import load_model
    from nanochat_lit.engine import Engine
    base, _, tokenizer = exportable
    done = run(base, 'nanochat_lit_export', '--stage', 'sft', '--model-tag', 'recipe', '--out', str(tmp_path/'recipe-hf'))
    assert done.returncode == 0, done.stderr
    assert 'with its own modelling code' in done.stdout and "window_pattern='SSSL'" in done.stdout and 'trust_remote_code=True' in done.stdout
    assert {'configuration_nanochat_lit.py', 'modeling_nanochat_lit.py'} <= {p.name for p in (tmp_path/'recipe-hf').iterdir()}
    with pytest.MonkeyPatch.context() as env:
        env.setenv('NANOCHAT_LIT_BASE_DIR', str(base))
        ours, _, _ = load_model('sft', 'recipe', device='cpu')
    window = min(ours.config.window_sizes)
    chat = tokenizer.render_for_completion({'messages': [{'role': 'user', 'content': 'Load it, 然后读回来.'}]})
    long = tokenizer.encode('Hugging Face loads what we export, 然后我们再读回来. ' * 20, prepend='<|bos|>')[:window + 8]  # with 120 new tokens: the whole context
    (tmp_path/'prompts.json').write_text(json.dumps([chat, long]))
    loaded = subprocess.run([sys.executable, '-c', WITHOUT_NANOCHAT_LIT, str(tmp_path/'recipe-hf'), str(tmp_path/'prompts.json'), '120',
                             str(tmp_path/'theirs.pt')], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env={**os.environ, 'HF_MODULES_CACHE': str(tmp_path/'modules')})
    assert loaded.returncode == 0, loaded.stderr
    theirs = torch.load(tmp_path/'theirs.pt')
    assert theirs['class'] == 'NanoChatLitForCausalLM'
    with torch.no_grad():
        for ids, logits in zip((chat, long), theirs['logits']): assert (ours(torch.tensor([ids]))[0] - logits).abs().max() < 1e-3
    engine = Engine(ours, tokenizer)
    for ids, greedy in zip((chat, long), theirs['greedy']):
        assert greedy == [step.tokens[0] for step in engine.generate(ids, max_tokens=120, temperature=0)]
    assert len(long) > window and all(theirs['greedy'])  # decoding after a prompt longer than the sliding window
    back = run(base, 'nanochat_lit_export', '--from-hf', str(tmp_path/'recipe-hf'), '--model-tag', 'recipe-back')
    assert back.returncode == 0, back.stderr
    with pytest.MonkeyPatch.context() as env:
        env.setenv('NANOCHAT_LIT_BASE_DIR', str(base))
        imported, _, _ = load_model('sft', 'recipe-back', device='cpu')
    assert imported.config == ours.config
    assert all(torch.equal(weight, imported.state_dict()[name]) for name, weight in ours.state_dict().items())


@pytest.mark.parametrize('tag', ['scalars', 'qk', 'backout', 'unit-values'])
def test_each_switch_transformers_lacks_exports_with_its_own_code(exportable, tmp_path, tag):
    "Residual scalars, a query/key scale, backout and 'unit' value embeddings, each alone, export with our code, and transformers computes our logits."
    from nanochat_lit.checkpoint import load_model
    base, _, tokenizer = exportable
    done = run(base, 'nanochat_lit_export', '--stage', 'sft', '--model-tag', tag, '--out', str(tmp_path/tag))
    assert done.returncode == 0 and 'with its own modelling code' in done.stdout, done.stderr
    hf_model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path/tag, trust_remote_code=True, dtype=torch.float32)
    with pytest.MonkeyPatch.context() as env:
        env.setenv('NANOCHAT_LIT_BASE_DIR', str(base))
        ours, _, _ = load_model('sft', tag, device='cpu')
    ids = torch.tensor([tokenizer.encode('Hugging Face loads what we export', prepend='<|bos|>')])
    with torch.no_grad(): assert (hf_model(ids).logits - ours(ids)).abs().max() < 1e-4
