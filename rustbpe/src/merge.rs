//! Stage 2: learn the merges from the chunk counts.
//!
//! Classic BPE recounts every adjacent pair after each merge: O(corpus) per merge.
//! Here the pair counts are kept up to date incrementally: a merge of (a, b) -> z only
//! changes the pairs next to each occurrence of (a, b), and an index pair -> words tells
//! which words to visit. The most frequent pair comes from a max-heap with lazy deletion.
//!
//! Tie-break: among pairs with equal count the smallest (left_id, right_id) wins, so the
//! result depends only on the chunk counts (not on hash order or thread count).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use ahash::AHashMap;

use crate::count::ChunkCounts;

/// A pair of token ids packed as `left << 32 | right`: one hashable integer whose
/// numeric order is the lexicographic order of (left, right).
type PairKey = u64;

fn pair_key(left: u32, right: u32) -> PairKey {
    ((left as u64) << 32) | right as u64
}

fn unpack(key: PairKey) -> (u32, u32) {
    ((key >> 32) as u32, key as u32)
}

/// All words (unique chunks of at least two bytes) stored in one flat symbol buffer.
/// Merging only ever shortens a word, so each word is rewritten in place.
struct Words {
    symbols: Vec<u32>,
    start: Vec<usize>,
    len: Vec<u32>,
    count: Vec<i64>,
}

impl Words {
    fn from_counts(chunk_counts: ChunkCounts) -> Words {
        let mut chunks: Vec<(String, u64)> = chunk_counts.into_iter().filter(|(chunk, _)| chunk.len() >= 2).collect();
        // Sorting is not needed for the result, only so the work is laid out identically every run.
        chunks.sort_unstable();
        let total_bytes = chunks.iter().map(|(chunk, _)| chunk.len()).sum();
        let mut words = Words {
            symbols: Vec::with_capacity(total_bytes),
            start: Vec::with_capacity(chunks.len()),
            len: Vec::with_capacity(chunks.len()),
            count: Vec::with_capacity(chunks.len()),
        };
        for (chunk, count) in chunks {
            words.start.push(words.symbols.len());
            words.len.push(chunk.len() as u32);
            words.count.push(count as i64);
            words.symbols.extend(chunk.bytes().map(u32::from));
        }
        words
    }

    fn word(&self, index: usize) -> &[u32] {
        let start = self.start[index];
        &self.symbols[start..start + self.len[index] as usize]
    }
}

/// Count of one pair, weighted by word counts, and the words it occurs in.
/// A word stays listed after the pair has left it; visiting it then is a harmless no-op.
struct PairStats {
    count: i64,
    words: Vec<u32>,
}

/// Learn up to `num_merges` merges; returns them in order (merge i creates token 256 + i).
/// Returns fewer when the corpus runs out of adjacent pairs.
pub fn learn_merges(chunk_counts: ChunkCounts, num_merges: usize) -> Vec<(u32, u32)> {
    let mut words = Words::from_counts(chunk_counts);
    let mut pairs: AHashMap<PairKey, PairStats> = AHashMap::new();
    for word_index in 0..words.len.len() {
        let count = words.count[word_index];
        for window in words.word(word_index).windows(2) {
            let stats = pairs
                .entry(pair_key(window[0], window[1]))
                .or_insert_with(|| PairStats { count: 0, words: Vec::new() });
            stats.count += count;
            if stats.words.last() != Some(&(word_index as u32)) {
                stats.words.push(word_index as u32);
            }
        }
    }
    // Max-heap on count, then on the smallest pair. Entries may be stale (counts only
    // ever drop for existing pairs), so a popped entry is checked against `pairs`.
    let mut heap: BinaryHeap<(i64, Reverse<PairKey>)> =
        pairs.iter().map(|(&key, stats)| (stats.count, Reverse(key))).collect();

    let mut merges = Vec::with_capacity(num_merges);
    let mut created: Vec<PairKey> = Vec::new();
    while merges.len() < num_merges {
        let (heap_count, Reverse(key)) = match heap.pop() {
            Some(entry) => entry,
            None => break,
        };
        let current = pairs.get(&key).map_or(0, |stats| stats.count);
        if current <= 0 {
            continue;
        }
        if current != heap_count {
            heap.push((current, Reverse(key)));
            continue;
        }
        let (left, right) = unpack(key);
        let new_id = 256 + merges.len() as u32;
        let stats = pairs.remove(&key).expect("pair popped from the heap is in the table");
        created.clear();
        for &word_index in &stats.words {
            merge_word(&mut words, word_index as usize, left, right, new_id, &mut pairs, &mut created);
        }
        // Every pair created by this merge contains `new_id`, so it did not exist before
        // and its count is final now: push it once.
        for &new_key in &created {
            heap.push((pairs[&new_key].count, Reverse(new_key)));
        }
        merges.push((left, right));
    }
    merges
}

/// Replace every (left, right) in one word by `new_id`, scanning left to right without
/// overlaps, and update the counts of the neighbouring pairs.
fn merge_word(
    words: &mut Words,
    word_index: usize,
    left: u32,
    right: u32,
    new_id: u32,
    pairs: &mut AHashMap<PairKey, PairStats>,
    created: &mut Vec<PairKey>,
) {
    let start = words.start[word_index];
    let len = words.len[word_index] as usize;
    let count = words.count[word_index];
    let symbols = &mut words.symbols[start..start + len];

    let decrease = |pairs: &mut AHashMap<PairKey, PairStats>, a: u32, b: u32| {
        // The merged pair itself is already out of the table (it can show up here when left == right).
        if let Some(stats) = pairs.get_mut(&pair_key(a, b)) {
            stats.count -= count;
        }
    };
    let increase = |pairs: &mut AHashMap<PairKey, PairStats>, created: &mut Vec<PairKey>, a: u32, b: u32| {
        let key = pair_key(a, b);
        let stats = pairs.entry(key).or_insert_with(|| {
            created.push(key);
            PairStats { count: 0, words: Vec::new() }
        });
        stats.count += count;
        if stats.words.last() != Some(&(word_index as u32)) {
            stats.words.push(word_index as u32);
        }
    };

    let (mut read, mut write) = (0, 0);
    let mut previous = 0; // original symbol at read - 1 (positions before `write` are rewritten)
    while read < len {
        if read + 1 < len && symbols[read] == left && symbols[read + 1] == right {
            if read > 0 {
                decrease(pairs, previous, left);
                increase(pairs, created, symbols[write - 1], new_id);
            }
            if read + 2 < len {
                let next = symbols[read + 2];
                // If another occurrence starts right after, its own left side handles this boundary.
                let next_is_merged = read + 3 < len && next == left && symbols[read + 3] == right;
                if !next_is_merged {
                    decrease(pairs, right, next);
                    increase(pairs, created, new_id, next);
                }
            }
            symbols[write] = new_id;
            previous = right;
            read += 2;
        } else {
            previous = symbols[read];
            symbols[write] = previous;
            read += 1;
        }
        write += 1;
    }
    words.len[word_index] = write as u32;
}

/// The byte string of every token: 0..=255 are the single bytes, then one per merge.
pub fn token_bytes(merges: &[(u32, u32)]) -> Vec<Vec<u8>> {
    let mut vocab: Vec<Vec<u8>> = (0..=255u8).map(|byte| vec![byte]).collect();
    for &(left, right) in merges {
        let mut bytes = vocab[left as usize].clone();
        bytes.extend_from_slice(&vocab[right as usize]);
        vocab.push(bytes);
    }
    vocab
}

/// Encode one chunk by applying the merges in the order they were learned.
pub fn encode_chunk(chunk: &[u8], merge_rank: &AHashMap<PairKey, u32>) -> Vec<u32> {
    let mut ids: Vec<u32> = chunk.iter().map(|&byte| u32::from(byte)).collect();
    while ids.len() >= 2 {
        // The earliest-learned merge present in the chunk; new pairs it creates are always later ones.
        let best = ids
            .windows(2)
            .filter_map(|window| merge_rank.get(&pair_key(window[0], window[1])).map(|&rank| (rank, window[0], window[1])))
            .min();
        let (rank, left, right) = match best {
            Some(best) => best,
            None => break,
        };
        let mut merged = Vec::with_capacity(ids.len());
        let mut i = 0;
        while i < ids.len() {
            if i + 1 < ids.len() && ids[i] == left && ids[i + 1] == right {
                merged.push(256 + rank);
                i += 2;
            } else {
                merged.push(ids[i]);
                i += 1;
            }
        }
        ids = merged;
    }
    ids
}

pub fn merge_ranks(merges: &[(u32, u32)]) -> AHashMap<PairKey, u32> {
    merges.iter().enumerate().map(|(rank, &(left, right))| (pair_key(left, right), rank as u32)).collect()
}
