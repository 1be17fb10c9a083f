//! Stage 1: split documents into regex chunks and count how often each chunk occurs.
//!
//! BPE never merges across chunk boundaries, so the corpus reduces to a multiset of
//! chunks ("words"). Counting is the only stage that touches every byte of the text,
//! so it runs in parallel over the documents of a batch.

use ahash::AHashMap;
use rayon::prelude::*;

use crate::split::Splitter;

/// Unique chunk -> number of occurrences in the corpus seen so far.
pub type ChunkCounts = AHashMap<String, u64>;

/// Truncate `text` to its first `max_chars` characters (Unicode scalar values, as Python's `len`).
pub fn truncate_chars(text: &mut String, max_chars: usize) {
    if let Some((byte_index, _)) = text.char_indices().nth(max_chars) {
        text.truncate(byte_index);
    }
}

fn add_counts<'a>(a: AHashMap<&'a str, u64>, b: AHashMap<&'a str, u64>) -> AHashMap<&'a str, u64> {
    // Fold the smaller map into the larger one: fewer hash insertions.
    let (mut larger, smaller) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    for (chunk, count) in smaller {
        *larger.entry(chunk).or_insert(0) += count;
    }
    larger
}

/// Count the regex chunks of one batch of documents (in parallel) and add them to `counts`.
pub fn count_batch(splitter: &Splitter, docs: &[String], counts: &mut ChunkCounts) -> Result<(), fancy_regex::Error> {
    // Per-thread maps borrow the chunk text from `docs`, so no allocation per occurrence;
    // only chunks never seen before are copied into the global map.
    let batch_counts = docs
        .par_iter()
        .try_fold(AHashMap::new, |mut local: AHashMap<&str, u64>, doc| {
            splitter.for_each_chunk(doc, |chunk| *local.entry(chunk).or_insert(0) += 1)?;
            Ok(local)
        })
        .try_reduce(AHashMap::new, |a, b| Ok(add_counts(a, b)))?;
    counts.reserve(batch_counts.len() / 8);
    for (chunk, count) in batch_counts {
        match counts.get_mut(chunk) {
            Some(total) => *total += count,
            None => {
                counts.insert(chunk.to_owned(), count);
            }
        }
    }
    Ok(())
}
