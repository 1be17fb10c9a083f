"""Tests for the `rustbpe` crate: it must learn exactly the merges of a simple pure-Python BPE."""
import hashlib, json, os, subprocess, sys, warnings
from collections import Counter

import pytest
import regex
import tiktoken
from hypothesis import given, settings, strategies as st

rustbpe = pytest.importorskip("rustbpe", reason="build it first: pip install ./rustbpe")


def merge_ids(ids, pair, new_id):
    "Replace every (left, right) in `ids` by `new_id`, left to right, without overlaps."
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair: out.append(new_id); i += 2
        else: out.append(ids[i]); i += 1
    return out


def reference_merges(texts, vocab_size, pattern=rustbpe.DEFAULT_PATTERN):
    "Pure-Python byte-level BPE: recount all pairs every merge; ties go to the smallest (left, right)."
    chunk_counts = Counter(chunk.encode("utf-8") for text in texts for chunk in regex.findall(pattern, text))
    words = [(list(chunk), count) for chunk, count in chunk_counts.items()]
    merges = []
    for new_id in range(256, vocab_size):
        pair_counts = Counter()
        for ids, count in words:
            for pair in zip(ids, ids[1:]): pair_counts[pair] += count
        if not pair_counts: break
        best = max(pair_counts, key=lambda pair: (pair_counts[pair], -pair[0], -pair[1]))
        merges.append(best)
        words = [(merge_ids(ids, best, new_id), count) for ids, count in words]
    return merges


def train(texts, vocab_size, **kwargs):
    trainer = rustbpe.Trainer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # running out of pairs is expected on tiny corpora
        trainer.train_from_iterator(iter(texts), vocab_size, **kwargs)
    return trainer


CORPORA = {
    "english": ["The quick brown fox jumps over the lazy dog. It's what we'll do; they're sure you've seen it.",
                "A tokenizer turns text into tokens; the tokens are what the model sees, token by token.",
                "THE DOG'S BONE, THE DOGS' BONES. Don't shout! Isn't it? I'M HERE, YOU'RE THERE."] * 3,
    "chinese": ["我们的目标是用最少的代码训练一个能聊天的模型。", "分词器把文本切成词元，模型只看到词元。",
                "中文没有空格，所以每个汉字都是三个字节：模型要学会把它们合并。"] * 2,
    "emoji": ["😀😀😀 👍🏽👍🏽 👨‍👩‍👧‍👦 family 🇫🇷🇫🇷 flags 🎉🎉🎉🎉", "✨ sparkles ✨✨ and ❤️❤️❤️ hearts"],
    "whitespace": ["a\n\nb\n\n\nc    d\t\te \r\n\r\n f", "   leading and trailing   ", "\n\n\n\n", "x  \n  y\t\n\tz  "],
    "digits": ["3.14159265358979 2718281828 1,000,000 007 42 0x1F 2024-01-31", "1234567890" * 4, "12 123 1234 12345"],
    "mixed": ["def f(x):\n    return x**2 + 1  # square\n", "naïve café – “quotes” ‘and’ ß ẞ Ω ω",
              "Mix 中文 and English 123 😀!", "<|endoftext|> <b>bold</b> &amp; https://example.com/a?b=1"],
}


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_merges_match_reference(name):
    texts = CORPORA[name]
    assert train(texts, 256 + 150).merges() == reference_merges(texts, 256 + 150)


# Characters assigned in Python's Unicode version (14.0, same as the Rust regex tables); newer
# ones are \p{L} to the `regex` module but unassigned to Rust, so the chunks would differ.
ASSIGNED_CHARACTERS = st.characters(blacklist_categories=("Cs", "Cn"))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(ASSIGNED_CHARACTERS, max_size=40), min_size=1, max_size=6), st.integers(256, 320))
def test_merges_match_reference_on_random_text(texts, vocab_size):
    if not any(texts): return  # empty input is an error, tested below
    assert train(texts, vocab_size).merges() == reference_merges(texts, vocab_size)


# The default and GPT-4 patterns run on a rewrite for Rust's `regex` crate; wrapping one in a
# group makes it an unknown pattern, which runs on fancy-regex as written.
def splitter(pattern):
    trainer = rustbpe.Trainer()
    trainer.train_from_iterator(iter(["ab"]), 256, pattern=pattern)
    return trainer


SPLITTERS = {pattern: (splitter(pattern), splitter(f"(?:{pattern})"))
             for pattern in (rustbpe.DEFAULT_PATTERN, rustbpe.GPT4_PATTERN)}
TRICKY_TEXT = st.text(st.sampled_from(list(" \t\n\r\u3000\xa0\u2028\x0b\x0caA1١!'sStTlLvVdDmMreE中é😀ſK\u212a.-")) | ASSIGNED_CHARACTERS,
                      max_size=60)


@settings(max_examples=500, deadline=None)
@given(TRICKY_TEXT)
def test_rewritten_split_equals_fancy_regex_and_python_regex(text):
    for pattern, (rewritten, fancy) in SPLITTERS.items():
        chunks = rewritten.split(text)
        assert "".join(chunks) == text
        assert chunks == fancy.split(text)
        assert chunks == regex.findall(pattern, text)


def test_mergeable_ranks_and_pattern():
    trainer = train(CORPORA["english"], 300)
    ranks = trainer.get_mergeable_ranks()
    assert ranks[:256] == [(bytes([b]), b) for b in range(256)]
    assert [rank for _, rank in ranks] == list(range(300))
    for (left, right), (token, rank) in zip(trainer.merges(), ranks[256:]):
        assert token == ranks[left][0] + ranks[right][0]
    assert trainer.get_pattern() == rustbpe.DEFAULT_PATTERN
    assert train(["ab ab"], 257, pattern=r"\S+|\s+").get_pattern() == r"\S+|\s+"


def test_deterministic_and_independent_of_batches():
    texts = [text for corpus in CORPORA.values() for text in corpus]
    first = train(texts, 400).merges()
    assert train(texts, 400).merges() == first
    assert train(texts, 400, batch_size=1).merges() == first
    assert train(texts, 400, batch_size=3).merges() == first


SUBPROCESS_TRAIN = """
import hashlib, json, random, rustbpe
rng = random.Random(0)
words = ["the", "cat", "sat", "on", "mat", "tok", "en", "izer", "中文", "😀", "2024", " ", "\\n", "ing", "ed"]
texts = ["".join(rng.choice(words) + rng.choice(["", " ", ", "]) for _ in range(rng.randint(1, 200))) for _ in range(3000)]
trainer = rustbpe.Trainer()
trainer.train_from_iterator(iter(texts), 256 + 400, batch_size=97)
print(hashlib.sha256(json.dumps(trainer.merges()).encode()).hexdigest())
"""


def test_same_merges_for_any_thread_count():
    digests = []
    for threads in ("1", "2", "4"):
        result = subprocess.run([sys.executable, "-c", SUBPROCESS_TRAIN], env={**os.environ, "RAYON_NUM_THREADS": threads},
                                capture_output=True, text=True, check=True)
        digests.append(result.stdout.strip())
    assert len(set(digests)) == 1, digests


def test_doc_cap_equals_pretruncated_docs():
    texts = CORPORA["english"] + CORPORA["chinese"] + CORPORA["emoji"]
    assert train(texts, 400, doc_cap=5).merges() == train([t[:5] for t in texts], 400).merges()
    assert train(texts, 400, doc_cap=5).merges() == reference_merges([t[:5] for t in texts], 400)


def test_max_chars_stops_after_that_many_characters():
    texts = CORPORA["english"] + CORPORA["chinese"] + CORPORA["mixed"]
    max_chars = len(texts[0]) + len(texts[1]) + 17  # ends inside the third document
    expected = [texts[0], texts[1], texts[2][:17]]
    assert train(texts, 400, max_chars=max_chars).merges() == train(expected, 400).merges()
    assert train(texts, 400, max_chars=max_chars, doc_cap=10).merges() == train([t[:10] for t in texts], 400).merges()


def test_errors_are_value_errors_that_say_what_to_do():
    with pytest.raises(ValueError, match=r"vocab_size=255 .*256"): train(["hello"], 255)
    with pytest.raises(ValueError, match="no text to train on"): train([], 300)
    with pytest.raises(ValueError, match="no text to train on"): train(["", ""], 300)
    with pytest.raises(ValueError, match="no text to train on"): train(["hello"], 300, max_chars=0)
    with pytest.raises(ValueError, match=r'pattern="\(unclosed" is not a valid regex'): train(["hello"], 300, pattern="(unclosed")
    with pytest.raises(ValueError, match="batch_size=0"): train(["hello"], 300, batch_size=0)
    with pytest.raises(TypeError, match="document #1 is of type int, not str"): train(["hello", 42], 300)


def test_running_out_of_pairs_stops_early_with_a_warning():
    trainer = rustbpe.Trainer()
    with pytest.warns(UserWarning, match=r"ran out of adjacent pairs after 2 merges.*vocab_size=1000"):
        trainer.train_from_iterator(iter(["abab"]), 1000)
    assert trainer.merges() == [(97, 98), (256, 256)]
    assert train(["a b c"], 256).merges() == []


def tiktoken_encoding(trainer):
    return tiktoken.Encoding("rustbpe_test", pat_str=trainer.get_pattern(),
                             mergeable_ranks=dict(trainer.get_mergeable_ranks()), special_tokens={"<|bos|>": 10_000})


TRAINED = train([text for corpus in CORPORA.values() for text in corpus] * 2, 256 + 300)
ENCODING = tiktoken_encoding(TRAINED)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_tiktoken_round_trip(text):
    assert ENCODING.decode(ENCODING.encode_ordinary(text)) == text
    assert ENCODING.decode(TRAINED.encode(text)) == text


def test_rust_encode_agrees_with_tiktoken():
    for corpus in CORPORA.values():
        for text in corpus:
            assert TRAINED.encode(text) == ENCODING.encode_ordinary(text)
