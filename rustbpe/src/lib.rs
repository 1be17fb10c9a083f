//! rustbpe: a byte-level BPE trainer (nanochat style) with Python bindings.
//!
//! Python pulls documents from an iterator in batches (holding the GIL), Rust counts the
//! regex chunks of each batch in parallel (GIL released), then learns the merges with
//! incremental pair counts. The result is a tiktoken-compatible `mergeable_ranks` table.

mod count;
mod merge;
mod split;

use ahash::AHashMap;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use split::{Splitter, DEFAULT_PATTERN, GPT4_PATTERN};

fn compile(pattern: &str) -> PyResult<Splitter> {
    Splitter::new(pattern).map_err(|err| {
        PyValueError::new_err(format!(
            "pattern={pattern:?} is not a valid regex ({err}); fix it or pass pattern=None for the default"
        ))
    })
}

/// Trains a byte-level BPE vocabulary; afterwards holds the merges and the split pattern.
#[pyclass]
struct Trainer {
    pattern: String,
    splitter: Splitter,
    merges: Vec<(u32, u32)>,
}

#[pymethods]
impl Trainer {
    #[new]
    fn new() -> PyResult<Self> {
        Ok(Trainer { pattern: DEFAULT_PATTERN.to_string(), splitter: compile(DEFAULT_PATTERN)?, merges: Vec::new() })
    }

    /// Train on the str documents of `iterator` until the vocabulary has `vocab_size` tokens.
    ///
    /// `max_chars` stops after that many characters in total (the last document is cut to fit),
    /// `doc_cap` cuts every document to its first `doc_cap` characters, `batch_size` documents
    /// are pulled from Python at a time. If the text runs out of adjacent pairs first, training
    /// stops early with a UserWarning and `merges()` is shorter than `vocab_size - 256`.
    #[args(pattern = "None", max_chars = "None", doc_cap = "None", batch_size = "8192")]
    #[pyo3(text_signature = "($self, iterator, vocab_size, pattern=None, max_chars=None, doc_cap=None, batch_size=8192)")]
    fn train_from_iterator(
        &mut self,
        py: Python<'_>,
        iterator: &PyAny,
        vocab_size: i64,
        pattern: Option<String>,
        max_chars: Option<u64>,
        doc_cap: Option<u64>,
        batch_size: usize,
    ) -> PyResult<()> {
        if vocab_size < 256 {
            return Err(PyValueError::new_err(format!(
                "vocab_size={vocab_size} is below 256, the number of single-byte tokens; pick vocab_size >= 256"
            )));
        }
        if vocab_size > u32::MAX as i64 {
            return Err(PyValueError::new_err(format!("vocab_size={vocab_size} does not fit in 32 bits; pick a smaller one")));
        }
        if batch_size == 0 {
            return Err(PyValueError::new_err("batch_size=0 must be at least 1; the default is 8192"));
        }
        let pattern = pattern.unwrap_or_else(|| DEFAULT_PATTERN.to_string());
        let splitter = compile(&pattern)?;
        let mut documents = iterator.iter().map_err(|_| {
            PyTypeError::new_err(format!(
                "iterator of type {} is not iterable; pass an iterator (or list) of str documents",
                iterator.get_type().name().unwrap_or("?")
            ))
        })?;

        let mut chunk_counts = count::ChunkCounts::new();
        let (mut documents_seen, mut chars_seen) = (0u64, 0u64);
        let mut batch: Vec<String> = Vec::with_capacity(batch_size);
        let mut exhausted = false;
        while !exhausted {
            // Pull one batch with the GIL held.
            batch.clear();
            while batch.len() < batch_size {
                if max_chars.map_or(false, |limit| chars_seen >= limit) {
                    exhausted = true;
                    break;
                }
                let item = match documents.next() {
                    Some(item) => item?,
                    None => {
                        exhausted = true;
                        break;
                    }
                };
                let mut text: String = item.extract().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "document #{documents_seen} is of type {}, not str; the iterator must yield str",
                        item.get_type().name().unwrap_or("?")
                    ))
                })?;
                documents_seen += 1;
                if let Some(cap) = doc_cap {
                    count::truncate_chars(&mut text, cap as usize);
                }
                let mut n_chars = text.chars().count() as u64;
                if let Some(limit) = max_chars {
                    if chars_seen + n_chars > limit {
                        count::truncate_chars(&mut text, (limit - chars_seen) as usize);
                        n_chars = limit - chars_seen;
                    }
                }
                chars_seen += n_chars;
                batch.push(text);
            }
            // Count its chunks in parallel with the GIL released.
            py.allow_threads(|| count::count_batch(&splitter, &batch, &mut chunk_counts)).map_err(|err| {
                PyValueError::new_err(format!("pattern={pattern:?} failed while splitting the text ({err}); simplify the pattern"))
            })?;
        }
        if chunk_counts.is_empty() {
            return Err(PyValueError::new_err(format!(
                "no text to train on: the iterator gave {documents_seen} documents with {chars_seen} characters \
                 (after doc_cap={doc_cap:?}, max_chars={max_chars:?}); pass non-empty str documents"
            )));
        }

        let num_merges = (vocab_size - 256) as usize;
        let merges = py.allow_threads(move || merge::learn_merges(chunk_counts, num_merges));
        if merges.len() < num_merges {
            PyErr::warn(
                py,
                py.import("builtins")?.getattr("UserWarning")?,
                &format!(
                    "the text ran out of adjacent pairs after {} merges: the vocabulary has {} tokens, \
                     not vocab_size={vocab_size}; train on more text or pick vocab_size <= {}",
                    merges.len(),
                    256 + merges.len(),
                    256 + merges.len()
                ),
                1,
            )?;
        }
        self.pattern = pattern;
        self.splitter = splitter;
        self.merges = merges;
        Ok(())
    }

    /// The regex pattern that splits text into chunks (tiktoken's `pat_str`).
    #[pyo3(text_signature = "($self)")]
    fn get_pattern(&self) -> String {
        self.pattern.clone()
    }

    /// (token bytes, rank) for every token: tiktoken's `mergeable_ranks`. Ranks 0..255 are the bytes.
    #[pyo3(text_signature = "($self)")]
    fn get_mergeable_ranks(&self, py: Python<'_>) -> Vec<(Py<PyBytes>, u32)> {
        merge::token_bytes(&self.merges)
            .iter()
            .enumerate()
            .map(|(rank, bytes)| (PyBytes::new(py, bytes).into(), rank as u32))
            .collect()
    }

    /// The learned merges in order, as (left_id, right_id); merge i creates token 256 + i.
    #[pyo3(text_signature = "($self)")]
    fn merges(&self) -> Vec<(u32, u32)> {
        self.merges.clone()
    }

    /// Split text into the chunks that training counts (with the current pattern).
    #[pyo3(text_signature = "($self, text)")]
    fn split(&self, text: &str) -> PyResult<Vec<String>> {
        let mut chunks = Vec::new();
        self.splitter
            .for_each_chunk(text, |chunk| chunks.push(chunk.to_string()))
            .map_err(|err| PyValueError::new_err(format!("pattern failed while splitting the text ({err})")))?;
        Ok(chunks)
    }

    /// Encode text with the learned merges (slow reference; use tiktoken in production).
    #[pyo3(text_signature = "($self, text)")]
    fn encode(&self, text: &str) -> PyResult<Vec<u32>> {
        let ranks: AHashMap<u64, u32> = merge::merge_ranks(&self.merges);
        let mut ids = Vec::new();
        self.splitter
            .for_each_chunk(text, |chunk| ids.extend(merge::encode_chunk(chunk.as_bytes(), &ranks)))
            .map_err(|err| PyValueError::new_err(format!("pattern failed while splitting the text ({err})")))?;
        Ok(ids)
    }
}

#[pymodule]
fn rustbpe(_py: Python<'_>, module: &PyModule) -> PyResult<()> {
    module.add_class::<Trainer>()?;
    module.add("DEFAULT_PATTERN", DEFAULT_PATTERN)?;
    module.add("GPT4_PATTERN", GPT4_PATTERN)?;
    Ok(())
}
