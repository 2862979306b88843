//! A distribution of durations kept in logarithmic buckets (DDSketch: Masson, Rim and
//! Lee, VLDB 2019), so that weeks of incidents merge by adding counts and any quantile
//! comes back within 1% of the exact one. Pure.
//!
//! A value `x` of at least `ZERO_BELOW` goes in bucket `i = ⌈ln x / ln γ⌉` with
//! `γ = (1 + α)/(1 − α)`: every value of the bucket lies in `(γ^(i−1), γ^i]`, and the
//! bucket answers `2γ^i/(γ + 1)`, within `α` of each of them. Smaller values count as
//! zero. Unlike the sketch crates, a value can be taken out again exactly (its bucket
//! decremented), which an incident whose milestones change needs. The count and the sum
//! are exact, so the mean is too.

/// The relative error of a quantile: 1%.
pub const ALPHA: f64 = 0.01;
/// Durations shorter than this (a millisecond) are counted as zero.
pub const ZERO_BELOW: f64 = 1e-3;

fn gamma_ln() -> f64 {
    ((1.0 + ALPHA) / (1.0 - ALPHA)).ln()
}

fn index(x: f64) -> i32 {
    (x.ln() / gamma_ln()).ceil() as i32
}

fn estimate(i: i32) -> f64 {
    let gamma = (1.0 + ALPHA) / (1.0 - ALPHA);
    2.0 * (f64::from(i) * gamma_ln()).exp() / (gamma + 1.0)
}

/// Counts may go below zero while changes are merged in any order; a complete sketch
/// has none. Two sketches are equal when they count the same values in the same
/// buckets, however their buckets are laid out.
#[derive(Debug, Clone, Default)]
pub struct Sketch {
    count: i64,
    sum: f64,
    zeros: i64,
    /// The index of `buckets[0]`.
    offset: i32,
    buckets: Vec<i64>,
}

impl PartialEq for Sketch {
    fn eq(&self, other: &Sketch) -> bool {
        (self.count, self.sum, self.zeros) == (other.count, other.sum, other.zeros)
            && self.live().eq(other.live())
    }
}

impl Sketch {
    /// The buckets that hold something, as (index, count), in order.
    fn live(&self) -> impl Iterator<Item = (i32, i64)> + '_ {
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, n)| **n != 0)
            .map(|(k, n)| (self.offset + k as i32, *n))
    }

    pub fn count(&self) -> i64 {
        self.count
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// Adds `x` seconds `times` times (a negative `times` takes it out).
    pub fn add(&mut self, x: f64, times: i64) {
        self.count += times;
        self.sum += x * times as f64;
        if x < ZERO_BELOW {
            self.zeros += times;
        } else {
            *self.bucket(index(x)) += times;
        }
    }

    /// Adds every value of `other`, `times` times.
    pub fn merge(&mut self, other: &Sketch, times: i64) {
        self.count += other.count * times;
        self.sum += other.sum * times as f64;
        self.zeros += other.zeros * times;
        for (index, n) in other.live() {
            *self.bucket(index) += n * times;
        }
    }

    fn bucket(&mut self, i: i32) -> &mut i64 {
        if self.buckets.is_empty() {
            self.offset = i;
        }
        if i < self.offset {
            let grow = (self.offset - i) as usize;
            self.buckets.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = i;
        }
        let k = (i - self.offset) as usize;
        if k >= self.buckets.len() {
            self.buckets.resize(k + 1, 0);
        }
        &mut self.buckets[k]
    }

    /// The value of the `rank`-th smallest (from 0), within `ALPHA`.
    fn at_rank(&self, rank: i64) -> f64 {
        let mut seen = self.zeros;
        if rank < seen {
            return 0.0;
        }
        for (k, n) in self.buckets.iter().enumerate() {
            seen += n;
            if rank < seen {
                return estimate(self.offset + k as i32);
            }
        }
        self.buckets
            .iter()
            .rposition(|n| *n > 0)
            .map_or(0.0, |k| estimate(self.offset + k as i32))
    }

    /// The `p` quantile interpolated between ranks as `Summary` does for exact values
    /// (`percentile_cont`), each rank's value within `ALPHA`; `None` when empty.
    pub fn quantile(&self, p: f64) -> Option<f64> {
        (self.count > 0).then(|| {
            let h = (self.count - 1) as f64 * p;
            let low = h.floor() as i64;
            let (a, b) = (
                self.at_rank(low),
                self.at_rank((low + 1).min(self.count - 1)),
            );
            a + (h - h.floor()) * (b - a)
        })
    }

    /// A compact form for storage: zigzag varints of the count, the zeros, how many
    /// buckets hold something, then each of those as the step from the previous one's
    /// index (the first: its index) and its count; the sum's eight bytes after the count.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put(out, self.count);
        out.extend_from_slice(&self.sum.to_le_bytes());
        put(out, self.zeros);
        put(out, self.live().count() as i64);
        let mut previous = 0;
        for (index, n) in self.live() {
            put(out, i64::from(index) - previous);
            put(out, n);
            previous = i64::from(index);
        }
    }

    /// Adds, `times` times, the sketch `encode` wrote at the front of `bytes`, without
    /// making it first, and moves past it; `None` when it is cut short or malformed
    /// (then part of it may have been added).
    pub fn merge_encoded(&mut self, bytes: &mut &[u8], times: i64) -> Option<()> {
        let count = take(bytes)?;
        let (sum, rest) = bytes.split_first_chunk::<8>()?;
        *bytes = rest;
        let zeros = take(bytes)?;
        let live = take(bytes)?;
        if live < 0 || live as usize > bytes.len() / 2 {
            return None;
        }
        let mut index = 0i64;
        for _ in 0..live {
            index += take(bytes)?;
            // Past these, no f64 duration at or above ZERO_BELOW has a bucket.
            if !(-1_000..=40_000).contains(&index) {
                return None;
            }
            *self.bucket(index as i32) += take(bytes)? * times;
        }
        self.count += count * times;
        self.sum += f64::from_le_bytes(*sum) * times as f64;
        self.zeros += zeros * times;
        Some(())
    }

    /// Reads what `encode` wrote from the front of `bytes`, and moves past it; `None`
    /// when it is cut short or malformed.
    pub fn decode(bytes: &mut &[u8]) -> Option<Sketch> {
        let mut sketch = Sketch::default();
        sketch.merge_encoded(bytes, 1)?;
        Some(sketch)
    }
}

fn put(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn take(bytes: &mut &[u8]) -> Option<i64> {
    let mut z: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (b, rest) = bytes.split_first()?;
        *bytes = rest;
        z |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(((z >> 1) as i64) ^ -((z & 1) as i64));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::summary::Summary;

    fn within(approx: f64, exact: f64) -> bool {
        (approx - exact).abs() <= ALPHA * exact.abs() + 1e-9
    }

    /// A long-tailed spread of durations, from milliseconds to weeks, as a generator
    /// without dependencies (a fixed LCG).
    fn durations(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (s >> 11) as f64 / (1u64 << 53) as f64;
                (u * 21.0 - 7.0).exp() * if s.is_multiple_of(17) { 0.0 } else { 1.0 }
            })
            .collect()
    }

    #[test]
    fn quantiles_are_within_one_percent_of_the_exact_ones() {
        for (n, seed) in [(1, 1), (2, 2), (7, 3), (100, 4), (5000, 5)] {
            let values = durations(n, seed);
            let mut sketch = Sketch::default();
            for v in &values {
                sketch.add(*v, 1);
            }
            let exact = Summary::of(values.clone());
            assert_eq!(sketch.count(), n as i64);
            assert!(within(sketch.sum() / n as f64, exact.mean.unwrap()));
            assert!(
                within(sketch.quantile(0.5).unwrap(), exact.median.unwrap()),
                "{n}"
            );
            assert!(
                within(sketch.quantile(0.9).unwrap(), exact.p90.unwrap()),
                "{n}"
            );
        }
        assert_eq!(Sketch::default().quantile(0.5), None);
    }

    #[test]
    fn merged_parts_equal_the_whole_and_values_come_out_exactly() {
        let values = durations(3000, 9);
        let mut whole = Sketch::default();
        let mut parts = vec![Sketch::default(); 5];
        for (k, v) in values.iter().enumerate() {
            whole.add(*v, 1);
            parts[k % 5].add(*v, 1);
        }
        let mut merged = Sketch::default();
        for p in &parts {
            merged.merge(p, 1);
        }
        assert_eq!(merged.quantile(0.9), whole.quantile(0.9));
        assert_eq!(merged.count(), whole.count());
        // Taking out what one part added leaves the others, bucket for bucket.
        merged.merge(&parts[0], -1);
        let mut rest = Sketch::default();
        for p in &parts[1..] {
            rest.merge(p, 1);
        }
        assert_eq!(merged.count(), rest.count());
        assert_eq!(merged.quantile(0.5), rest.quantile(0.5));
        assert_eq!(merged.quantile(0.9), rest.quantile(0.9));
    }

    #[test]
    fn the_stored_form_reads_back_and_refuses_garbage() {
        let mut sketch = Sketch::default();
        for v in durations(500, 11) {
            sketch.add(v, 1);
        }
        sketch.add(3600.0, -2);
        let mut bytes = Vec::new();
        sketch.encode(&mut bytes);
        Sketch::default().encode(&mut bytes);
        let mut rest = bytes.as_slice();
        let back = Sketch::decode(&mut rest).unwrap();
        assert_eq!(back.quantile(0.9), sketch.quantile(0.9));
        assert_eq!((back.count(), back.sum()), (sketch.count(), sketch.sum()));
        assert_eq!(Sketch::decode(&mut rest), Some(Sketch::default()));
        assert!(rest.is_empty());
        let first = bytes.len() - {
            let mut empty = Vec::new();
            Sketch::default().encode(&mut empty);
            empty.len()
        };
        for cut in [0, 3, 9, first / 2, first - 1] {
            assert_eq!(Sketch::decode(&mut &bytes[..cut]), None, "cut at {cut}");
        }
        assert!(Sketch::decode(&mut &[0xff; 12][..]).is_none());
    }
}
