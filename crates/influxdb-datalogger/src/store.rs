//! Where logged points wait for `write_data`: compactly. A test logs the same few series (a
//! measurement with the same tags) over and over, and the series key — `measurement,tag=value…`,
//! the part of a line before the fields — is often half of the line. So each distinct series
//! key is kept once, and each point keeps only the rest of its line (` fields timestamp\n`)
//! and the number of its series. The contiguous line protocol that writers receive is put
//! together when a batch is taken.

use std::collections::HashMap;

use crate::entry::{Batch, Event};
use crate::value::Precision;

#[derive(Debug, Default)]
pub(crate) struct PointStore {
    /// Distinct series keys, by number.
    series: Vec<Box<[u8]>>,
    numbers: HashMap<Box<[u8]>, u32>,
    /// The series of the last point, checked first: consecutive points usually share it.
    last: Option<u32>,
    /// The rest of each point's line, one after the other.
    rest: Vec<u8>,
    /// Where an encoder puts the series key of the point being stored.
    scratch: Vec<u8>,
    /// Per point: its series and where its rest ends in `rest`.
    series_of: Vec<u32>,
    ends: Vec<usize>,
}

impl PointStore {
    /// The buffer a line is encoded into, at its end; then call [`commit`](Self::commit) with
    /// the length the buffer had before.
    pub(crate) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.rest
    }

    /// The buffers for an encoder that writes a point's series key and the rest of its line
    /// apart: the series key into the first (empty), the rest at the end of the second; then
    /// call [`commit_split`](Self::commit_split).
    pub(crate) fn split_buffers(&mut self) -> (&mut Vec<u8>, &mut Vec<u8>) {
        self.scratch.clear();
        (&mut self.scratch, &mut self.rest)
    }

    /// The point an encoder just wrote to the split buffers: its series key, and the rest of
    /// its line (from `rest_start`).
    pub(crate) fn uncommitted_split(&self, rest_start: usize) -> (&[u8], &[u8]) {
        (&self.scratch, &self.rest[rest_start..])
    }

    /// Forgets what was written to the buffer from `start` on, not committed.
    pub(crate) fn discard_uncommitted(&mut self, start: usize) {
        self.rest.truncate(start);
    }

    /// Takes the point whose series key is in the scratch buffer and whose rest of line was
    /// appended to the buffer.
    pub(crate) fn commit_split(&mut self) {
        let key = std::mem::take(&mut self.scratch);
        let number = self.number_of_key(&key);
        self.scratch = key;
        self.series_of.push(number);
        self.ends.push(self.rest.len());
    }

    /// Takes the complete line encoded at `start..` of the buffer, whose series key is
    /// `split` bytes long: keeps the series key once and the rest of the line.
    pub(crate) fn commit(&mut self, start: usize, split: usize) {
        let number = self.number_of(start, split);
        self.rest.copy_within(start + split.., start);
        self.rest.truncate(self.rest.len() - split);
        self.series_of.push(number);
        self.ends.push(self.rest.len());
    }

    /// Appends a complete line encoded elsewhere, whose series key is `split` bytes long.
    pub(crate) fn push_line(&mut self, line: &[u8], split: usize) {
        let start = self.rest.len();
        self.rest.extend_from_slice(line);
        self.commit(start, split);
    }

    fn number_of(&mut self, start: usize, len: usize) -> u32 {
        let rest = std::mem::take(&mut self.rest);
        let number = self.number_of_key(&rest[start..start + len]);
        self.rest = rest;
        number
    }

    fn number_of_key(&mut self, key: &[u8]) -> u32 {
        if let Some(last) = self.last {
            if *self.series[last as usize] == *key {
                return last;
            }
        }
        let number = match self.numbers.get(key) {
            Some(&number) => number,
            None => {
                let number =
                    u32::try_from(self.series.len()).expect("fewer than 2^32 distinct series");
                self.series.push(key.into());
                self.numbers.insert(key.into(), number);
                number
            }
        };
        self.last = Some(number);
        number
    }

    /// Empties the store for reuse: keeps its buffers, and its table of series keys unless that
    /// grew large. Returns `false` (the caller then drops it) if its buffers are too big to keep.
    /// With continuous write every point is written on its own, and a fresh store per point
    /// allocated its buffers and hashed its series key each time. A store written every
    /// 100,000 points (~5 MB) regrew its buffer page by page after each write when only 1 MiB
    /// was kept: a page fault per ~80 points, 28 % of a `log()` when last measured.
    pub(crate) fn recycle(&mut self) -> bool {
        // ~300,000 points of lines; beyond that a burst's memory is given back.
        const KEEP_BYTES: usize = 16 << 20;
        const KEEP_POINTS: usize = KEEP_BYTES / 32;
        const KEEP_SERIES: usize = 1_024;
        if self.rest.capacity() > KEEP_BYTES || self.ends.capacity() > KEEP_POINTS {
            return false;
        }
        self.rest.clear();
        self.ends.clear();
        self.series_of.clear();
        self.scratch.clear();
        if self.series.len() > KEEP_SERIES {
            self.series.clear();
            self.numbers.clear();
            self.last = None;
        }
        true
    }

    /// How many points are stored.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The points as a batch of contiguous line protocol, with `events`.
    pub(crate) fn to_batch(&self, events: Vec<Event>, precision: Precision) -> Batch {
        self.range_to_batch(0..self.len(), events, precision)
    }

    /// Points `range` as a batch of contiguous line protocol, with `events`.
    pub(crate) fn range_to_batch(
        &self,
        range: std::ops::Range<usize>,
        events: Vec<Event>,
        precision: Precision,
    ) -> Batch {
        let mut start = match range.start {
            0 => 0,
            i => self.ends[i - 1],
        };
        let series_of = &self.series_of[range.clone()];
        let ends = &self.ends[range];
        let total = ends.last().map_or(0, |&end| end - start)
            + series_of
                .iter()
                .map(|&s| self.series[s as usize].len())
                .sum::<usize>();
        let mut lines = Vec::with_capacity(total);
        let mut line_ends = Vec::with_capacity(ends.len());
        for (&series, &end) in series_of.iter().zip(ends) {
            lines.extend_from_slice(&self.series[series as usize]);
            lines.extend_from_slice(&self.rest[start..end]);
            line_ends.push(lines.len());
            start = end;
        }
        Batch::from_parts(lines, line_ends, events, precision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_store_is_empty_keeps_its_series_and_a_big_one_is_not_kept() {
        let mut store = PointStore::default();
        let line: &[u8] = b"m,host=a f=1i 1\n";
        store.push_line(line, series_key_len(line));
        assert!(store.recycle());
        assert_eq!(store.len(), 0);
        assert_eq!(store.series.len(), 1, "the series table stays");
        let other: &[u8] = b"m,host=b f=2i 2\n";
        store.push_line(line, series_key_len(line));
        store.push_line(other, series_key_len(other));
        assert_eq!(
            store
                .to_batch(Vec::new(), Precision::Nanoseconds)
                .line_protocol(),
            b"m,host=a f=1i 1\nm,host=b f=2i 2\n"
        );
        // A write every 100,000 points: the buffers are kept, so the next 100,000 do not
        // regrow them page by page.
        for i in 0..100_000 {
            let line = format!("m,host=a f={i}i {i}\n");
            store.push_line(line.as_bytes(), 8);
        }
        let kept = store.rest.capacity();
        assert!(store.recycle(), "a few megabytes of buffers are kept");
        assert_eq!((store.len(), store.rest.capacity()), (0, kept));
        // A burst of over 16 MiB gives its memory back.
        let long = format!("m,host=a f=\"{}\" 1\n", "x".repeat(1_000));
        for _ in 0..17_000 {
            store.push_line(long.as_bytes(), 8);
        }
        assert!(!store.recycle(), "a burst's buffers are not kept");
    }

    #[test]
    fn ranges_assemble_to_the_same_lines_as_the_whole() {
        let mut store = PointStore::default();
        let lines: Vec<Vec<u8>> = (0..10)
            .map(|i| format!("m,host=h{} f={i}i {i}\n", i % 3).into_bytes())
            .collect();
        for line in &lines {
            store.push_line(line, series_key_len(line));
        }
        let whole = store.to_batch(Vec::new(), Precision::Nanoseconds);
        let parts: Vec<Batch> = [0..4, 4..9, 9..10]
            .into_iter()
            .map(|r| store.range_to_batch(r, Vec::new(), Precision::Nanoseconds))
            .collect();
        assert_eq!(Batch::concat(parts), whole);
        assert_eq!(whole.lines().count(), 10);
    }

    #[test]
    fn series_keys_are_kept_once_and_lines_come_back_whole() {
        let mut store = PointStore::default();
        let lines: [&[u8]; 5] = [
            b"m,host=a f=1i 1\n",
            b"m,host=a f=2i 2\n",
            b"m,host=b f=3i 3\n",
            b"m\\ x,host=a\\ b f=\"s p\" 4\n",
            b"m,host=a f=5i 5\n",
        ];
        for line in lines {
            store.push_line(line, series_key_len(line));
        }
        assert_eq!(store.len(), 5);
        assert_eq!(store.series.len(), 3, "three distinct series");
        assert_eq!(
            store.rest,
            b" f=1i 1\n f=2i 2\n f=3i 3\n f=\"s p\" 4\n f=5i 5\n"
        );
        let batch = store.to_batch(Vec::new(), Precision::Nanoseconds);
        assert_eq!(batch.line_protocol(), lines.concat().as_slice());
        assert_eq!(batch.lines().collect::<Vec<_>>(), lines.to_vec());
    }

    #[test]
    fn split_commits_keep_series_keys_once() {
        let mut store = PointStore::default();
        for (series, rest) in [
            ("a,t=1", " f=1i 1\n"),
            ("a,t=2", " f=2i 2\n"),
            ("a,t=1", " f=3i 3\n"),
        ] {
            let (key, buffer) = store.split_buffers();
            key.extend_from_slice(series.as_bytes());
            buffer.extend_from_slice(rest.as_bytes());
            store.commit_split();
        }
        assert_eq!(store.series.len(), 2);
        let batch = store.to_batch(Vec::new(), Precision::Nanoseconds);
        assert_eq!(
            batch.line_protocol(),
            b"a,t=1 f=1i 1\na,t=2 f=2i 2\na,t=1 f=3i 3\n"
        );
    }

    #[test]
    fn commit_takes_a_line_encoded_in_place() {
        let mut store = PointStore::default();
        store.push_line(b"a,t=1 f=1i 1\n", 5);
        let start = store.buffer().len();
        store.buffer().extend_from_slice(b"a,t=1 f=2i 2\n");
        store.commit(start, 5);
        assert_eq!(store.series.len(), 1);
        assert_eq!(
            store
                .to_batch(Vec::new(), Precision::Nanoseconds)
                .line_protocol(),
            b"a,t=1 f=1i 1\na,t=1 f=2i 2\n"
        );
    }

    /// The length of the series key of a line (the whole line when it has no space).
    fn series_key_len(line: &[u8]) -> usize {
        crate::line_protocol::series_key_len(line).unwrap_or(line.len())
    }

    #[test]
    fn the_series_key_ends_at_the_first_unescaped_space() {
        assert_eq!(series_key_len(b"m f=1"), 1);
        assert_eq!(series_key_len(b"m\\ n,t=a\\ b f=1"), 11);
        assert_eq!(series_key_len(b"m,t=a\\,b f=\"x y\""), 8);
    }
}
