//! Splitting text into chunks with the pre-tokenization regex.
//!
//! Any pattern runs on fancy-regex (look-around, possessive quantifiers), as tiktoken does.
//! fancy-regex runs the whole pattern in its backtracking VM as soon as one branch needs
//! look-ahead, which makes splitting the slowest stage of training. For the GPT-4 style
//! patterns there is an exact rewrite for the (much faster) `regex` crate:
//!
//! * the possessive `?+` / `++` apply to classes disjoint from what follows them, so the
//!   greedy `?` / `+` match the same text;
//! * `\s+(?!\S)|\s+` is `\s+` minus the last whitespace character when the run has more than
//!   one character and a non-space follows. Only a run without `\r`/`\n` can reach this branch
//!   (`\s*[\r\n]` comes first), so a match of only such whitespace came from it.

use fancy_regex::Regex as FancyRegex;
use regex::Regex;

/// GPT-4's split pattern, except that numbers split into groups of 1-2 digits (not 1-3).
pub const DEFAULT_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+";
/// GPT-4's split pattern (cl100k_base).
pub const GPT4_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+";

pub enum Splitter {
    /// A known pattern rewritten for the `regex` crate (see the module comment).
    Rewritten(Regex),
    Fancy(FancyRegex),
}

impl Splitter {
    pub fn new(pattern: &str) -> Result<Splitter, fancy_regex::Error> {
        let fancy = FancyRegex::new(pattern)?; // also validates the pattern as the user wrote it
        if pattern == DEFAULT_PATTERN || pattern == GPT4_PATTERN {
            let rewritten = pattern.replace("?+", "?").replace("++", "+").replace(r"|\s+(?!\S)", "");
            if let Ok(regex) = Regex::new(&rewritten) {
                return Ok(Splitter::Rewritten(regex));
            }
        }
        Ok(Splitter::Fancy(fancy))
    }

    /// Call `each` on every chunk of `text`, in order.
    pub fn for_each_chunk<'t>(&self, text: &'t str, mut each: impl FnMut(&'t str)) -> Result<(), fancy_regex::Error> {
        match self {
            Splitter::Fancy(regex) => {
                for found in regex.find_iter(text) {
                    each(found?.as_str());
                }
            }
            Splitter::Rewritten(regex) => {
                let mut position = 0;
                while let Some(found) = regex.find_at(text, position) {
                    let chunk = found.as_str();
                    let mut end = found.end();
                    if end < text.len() && chunk.chars().all(|c| c.is_whitespace() && c != '\r' && c != '\n') {
                        // `\s+(?!\S)`: leave the last whitespace character to the next chunk.
                        let last = chunk.chars().next_back().map_or(0, char::len_utf8);
                        if chunk.len() > last {
                            end -= last;
                        }
                    }
                    each(&text[found.start()..end]);
                    position = end;
                }
            }
        }
        Ok(())
    }
}
