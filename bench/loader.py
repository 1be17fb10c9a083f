"""Benchmark: DataLoader tokens/s and cropped fraction in steady state, for several tokenizer thread counts.

    python bench/loader.py                                   # the CPU preset's dataset (made if missing), B=8, T=512
    python bench/loader.py --data-dir DIR --seq-len 2048 --batch-size 16
Uses the saved tokenizer (`nanochat_lit_tok train`); without one, trains a small one on the training shards.
"""
import os, time
from pathlib import Path

import pyarrow.parquet as pq
from fastcore.script import call_parse
from nanochat_lit.common import ConfigError
from nanochat_lit.dataloader import DataLoader
from nanochat_lit.dataset import prepare_dataset, split_shards
from nanochat_lit.tokenizer import Tokenizer


def load_tokenizer(tokenizer_dir, data_dir):
    try: return Tokenizer.load(tokenizer_dir)
    except ConfigError:
        print("no saved tokenizer: training a 4096-token one on 5M characters of the training shards")
        texts = (t for p in split_shards(data_dir, 'train') for t in pq.read_table(p).column('text').to_pylist())
        return Tokenizer.train(texts, 4096, max_chars=5_000_000)


@call_parse
def main(data_dir:str=None,  # a dataset folder (default: prepare_dataset(preset='cpu'))
         tokenizer_dir:str=None,  # a saved tokenizer (default: the base directory's tokenizer/)
         batch_size:int=8,  # B
         seq_len:int=512,  # T
         batches:int=300,  # timed batches per setting
         threads:str='',  # comma-separated tokenizer thread counts (default: 1 and every power of 2 up to the cores)
        ):
    data_dir = Path(data_dir) if data_dir else prepare_dataset(preset='cpu')
    tokenizer = load_tokenizer(tokenizer_dir, data_dir)
    counts = [int(t) for t in threads.split(',')] if threads else sorted({1, *(2**i for i in range(1, 8) if 2**i <= os.cpu_count())})
    print(f"data {data_dir}, vocabulary {tokenizer.vocab_size}, B={batch_size}, T={seq_len}, {os.cpu_count()} cores")
    for n in counts:
        loader = DataLoader(tokenizer, 'train', batch_size, seq_len, data_dir, 'cpu', tokenizer_threads=n)
        next(loader)  # fills the buffer
        start = time.perf_counter()
        for _ in range(batches): inputs, _ = next(loader)
        seconds = time.perf_counter() - start
        print(f"tokenizer_threads={n}: {batches * inputs.numel() / seconds:,.0f} tokens/s, "
              f"{seconds / batches * 1e3:.2f} ms/batch, cropped {loader.cropped_fraction:.1%}")
