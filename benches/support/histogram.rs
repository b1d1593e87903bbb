//! A latency histogram for the benches that count tens of millions of
//! samples.

/// Microsecond latencies in buckets of 1/64 of a power of two (under 1.6 %
/// error), so that tens of millions of samples take a few kilobytes.
#[derive(Clone, Default)]
pub struct Histogram {
    counts: Vec<u64>,
    pub total: u64,
    pub max: u64,
}

impl Histogram {
    fn bucket(v: u64) -> usize {
        if v < 64 {
            return v as usize;
        }
        let e = 63 - u64::from(v.leading_zeros());
        (64 + (e - 6) * 64 + ((v >> (e - 6)) & 63)) as usize
    }

    /// The largest value of bucket `i`.
    fn upper(i: usize) -> u64 {
        if i < 64 {
            return i as u64;
        }
        let e = (i as u64 - 64) / 64 + 6;
        let sub = (i as u64 - 64) % 64;
        ((1 << e) | (sub << (e - 6))) + (1 << (e - 6)) - 1
    }

    pub fn record(&mut self, v: u64) {
        let i = Self::bucket(v);
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    pub fn merge(&mut self, other: &Histogram) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The `q` quantile in milliseconds (a bucket's upper bound).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let rank = ((q * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::upper(i).min(self.max) as f64 / 1000.0;
            }
        }
        f64::NAN
    }
}
