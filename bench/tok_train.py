"""Benchmark: train a BPE tokenizer with rustbpe and with HF `tokenizers` on the same text, interleaved.

Each trainer runs in its own child process so its peak memory (ru_maxrss, read with os.wait4) is its own.
Also measures `Tokenizer.encode` throughput on a list of documents (tiktoken, threads).

    python bench/tok_train.py                      # the offline English corpora (~54M characters, cached)
    python bench/tok_train.py --text-dir DIR       # your own files
"""
import json, os, pickle, subprocess, sys, tempfile, time
from pathlib import Path

from fastcore.script import call_parse
from nanochat_lit.corpora import iter_documents, iter_text_files
from nanochat_lit.tokenizer import SPLIT_PATTERN, Tokenizer, train_huggingface_bpe


def load_documents(text_dir):
    "Your files, or every document of the offline English corpora (train and held-out)."
    return list(iter_text_files(text_dir) if text_dir else iter_documents('en', split='all'))


def train_rustbpe(docs, vocab_size, ranks_path):
    import rustbpe
    trainer = rustbpe.Trainer()
    trainer.train_from_iterator(iter(docs), vocab_size, pattern=SPLIT_PATTERN)
    with open(ranks_path, "wb") as f: pickle.dump(dict(trainer.get_mergeable_ranks()), f)
    return len(trainer.get_mergeable_ranks())


def train_tokenizers(docs, vocab_size, ranks_path):
    return train_huggingface_bpe(iter(docs), vocab_size, special_tokens=[]).get_vocab_size()


def encode(docs, vocab_size, ranks_path):
    with open(ranks_path, "rb") as f: tokenizer = Tokenizer(pickle.load(f))
    start = time.perf_counter()
    ids = tokenizer.encode(docs, num_threads=os.cpu_count())
    seconds = time.perf_counter() - start
    n_bytes = sum(len(doc.encode("utf-8")) for doc in docs)
    return {"mb_per_s": n_bytes / 1e6 / seconds, "bytes_per_token": n_bytes / sum(map(len, ids))}


CHILDREN = {"load_only": lambda docs, vocab_size, ranks_path: None,
            "rustbpe": train_rustbpe, "tokenizers": train_tokenizers, "encode": encode}


def run_child(name, text_dir, vocab_size, ranks_path):
    "Run one job in a fresh process; its result plus its own peak memory (MiB)."
    command = [sys.executable, __file__, "--child", name, "--vocab-size", str(vocab_size), "--ranks-path", str(ranks_path)]
    process = subprocess.Popen(command + (["--text-dir", str(text_dir)] if text_dir else []), stdout=subprocess.PIPE)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0: raise RuntimeError(f"child {name} failed with status {os.waitstatus_to_exitcode(status)}")
    return {**json.loads(output), "peak_mib": usage.ru_maxrss / 1024}


@call_parse
def main(text_dir:str=None, # a folder of your own text files (default: the offline English corpora)
         vocab_size:int=32768, # vocabulary size for both trainers
         repeats:int=1, # timed runs per trainer, interleaved rustbpe, tokenizers, rustbpe, ...
         child:str=None, # internal: run one job in this process and print JSON
         ranks_path:str=None, # internal: where rustbpe's ranks go for the encode job
        ):
    "Time and measure peak memory of rustbpe vs HF tokenizers BPE training, plus Tokenizer.encode speed."
    docs = load_documents(text_dir)
    if child:
        start = time.perf_counter()
        result = CHILDREN[child](docs, vocab_size, ranks_path)
        print(json.dumps({"seconds": time.perf_counter() - start, "result": result}))
        return
    n_chars, n_bytes = sum(map(len, docs)), sum(len(doc.encode("utf-8")) for doc in docs)
    print(f"text: {text_dir or 'offline English corpora'}: {len(docs):,} documents, {n_chars / 1e6:.1f}M characters, "
          f"{n_bytes / 1e6:.1f} MB; vocab_size={vocab_size:,}; {os.cpu_count()} CPUs")
    del docs
    with tempfile.TemporaryDirectory() as tmp:
        ranks_path = Path(tmp) / "ranks.pkl"
        baseline = run_child("load_only", text_dir, vocab_size, ranks_path)
        print(f"{'load_only':>12}: peak {baseline['peak_mib']:7.0f} MiB (Python process holding the documents)")
        runs = {"rustbpe": [], "tokenizers": []}
        for repeat in range(repeats):
            for name in runs:
                runs[name].append(run_child(name, text_dir, vocab_size, ranks_path))
                r = runs[name][-1]
                print(f"{name:>12}: {r['seconds']:7.1f} s, peak {r['peak_mib']:7.0f} MiB, vocab {r['result']:,} (run {repeat + 1})",
                      flush=True)
        encoded = run_child("encode", text_dir, vocab_size, ranks_path)["result"]
    best = {name: min(r["seconds"] for r in results) for name, results in runs.items()}
    peak = {name: max(r["peak_mib"] for r in results) for name, results in runs.items()}
    print(f"tokenizers / rustbpe: time {best['tokenizers'] / best['rustbpe']:.2f}x (best of {repeats}), "
          f"peak memory {peak['tokenizers'] / peak['rustbpe']:.2f}x "
          f"(above load_only: {(peak['tokenizers'] - baseline['peak_mib']) / max(peak['rustbpe'] - baseline['peak_mib'], 1):.2f}x)")
    print(f"Tokenizer.encode (batch, {os.cpu_count()} threads) with rustbpe's ranks: {encoded['mb_per_s']:.1f} MB/s, "
          f"{encoded['bytes_per_token']:.2f} bytes/token")
