//! Keystroke timing features.
//!
//! Key events are timestamped when the server receives them. A person typing locally produces
//! inter-key intervals (IKIs) of roughly 80–400 ms, rarely under ~15 ms. A relay adds a second
//! network hop (and, for KVM-over-IP boxes, USB HID polling): jitter on that hop makes keys that
//! were typed apart arrive together ("bunching") and widens the spread of the IKIs. Features:
//! the fraction of IKIs below [`BUNCH_MS`], the median and the spread (standard deviation of the
//! log IKI) of typing intervals. Memory is constant per session; a small buffer re-sorts keys
//! that arrive slightly out of order.

/// IKIs at or below this count as "bunched", ms.
pub const BUNCH_MS: f64 = 10.0;
/// IKIs above this are pauses, not typing, ms.
pub const PAUSE_MS: f64 = 2_000.0;
const BUF: usize = 8;

/// Streaming keystroke statistics.
#[derive(Clone, Debug, Default)]
pub struct KeyStats {
    buf: [f64; BUF],
    len: usize,
    last: Option<f64>,
    /// Key events seen.
    pub keys: u64,
    /// Intervals within typing (≤ 2 s).
    pub ikis: u64,
    /// Of those, bunched.
    pub bunched: u64,
    /// Keys older than the reorder buffer could fix (dropped from the IKI stream).
    pub out_of_order: u64,
    n_log: u64,
    mean_log: f64,
    m2_log: f64,
}

/// Summary of a session's keystrokes.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct KeySummary {
    /// Key events.
    pub keys: u64,
    /// Typing intervals.
    pub intervals: u64,
    /// Of those, ≤ 10 ms.
    pub bunched: u64,
    /// Fraction of typing intervals ≤ 10 ms.
    pub bunched_fraction: f64,
    /// Geometric-mean typing interval (of intervals above 10 ms), ms.
    pub iki_typical_ms: Option<f64>,
    /// Standard deviation of ln(IKI) (of intervals above 10 ms).
    pub log_iki_sd: Option<f64>,
    /// Keys that arrived too far out of order to be used.
    pub out_of_order: u64,
}

impl KeyStats {
    /// Add a key received at `t_ms`.
    pub fn push(&mut self, t_ms: f64) {
        self.keys += 1;
        if let Some(last) = self.last
            && t_ms < last
        {
            // Older than everything already emitted: cannot be placed.
            self.out_of_order += 1;
            return;
        }
        // Insertion into the small sorted buffer.
        let mut i = self.len;
        if self.len == BUF {
            let oldest = self.buf[0];
            if t_ms < oldest {
                self.out_of_order += 1;
                return;
            }
            self.emit(oldest);
            self.buf.copy_within(1..BUF, 0);
            self.len -= 1;
            i = self.len;
        }
        while i > 0 && self.buf[i - 1] > t_ms {
            self.buf[i] = self.buf[i - 1];
            i -= 1;
        }
        self.buf[i] = t_ms;
        self.len += 1;
    }

    fn emit(&mut self, t: f64) {
        if let Some(last) = self.last {
            let iki = t - last;
            if iki <= PAUSE_MS {
                self.ikis += 1;
                if iki <= BUNCH_MS {
                    self.bunched += 1;
                } else {
                    let x = iki.ln();
                    self.n_log += 1;
                    let d = x - self.mean_log;
                    self.mean_log += d / self.n_log as f64;
                    self.m2_log += d * (x - self.mean_log);
                }
            }
        }
        self.last = Some(t);
    }

    /// Flush the buffer and summarise.
    pub fn finish(&mut self) -> KeySummary {
        let pending: Vec<f64> = self.buf[..self.len].to_vec();
        self.len = 0;
        for t in pending {
            self.emit(t);
        }
        KeySummary {
            keys: self.keys,
            intervals: self.ikis,
            bunched: self.bunched,
            bunched_fraction: if self.ikis > 0 {
                self.bunched as f64 / self.ikis as f64
            } else {
                0.0
            },
            iki_typical_ms: (self.n_log > 0).then(|| self.mean_log.exp()),
            log_iki_sd: (self.n_log > 1).then(|| (self.m2_log / (self.n_log - 1) as f64).sqrt()),
            out_of_order: self.out_of_order,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_by_hand() {
        let mut k = KeyStats::default();
        // 0, 100, 105 (bunched), 305, 5000 (pause), 5100
        for t in [0.0, 100.0, 105.0, 305.0, 5_000.0, 5_100.0] {
            k.push(t);
        }
        let s = k.finish();
        assert_eq!(s.keys, 6);
        assert_eq!(s.intervals, 4);
        assert_eq!(s.bunched_fraction, 0.25);
        // ln IKIs of 100, 200, 100 → geometric mean = (100·200·100)^(1/3)
        let g = (100.0f64 * 200.0 * 100.0).powf(1.0 / 3.0);
        assert!((s.iki_typical_ms.unwrap() - g).abs() < 1e-9);
    }

    #[test]
    fn small_disorder_is_repaired_large_is_counted() {
        let mut a = KeyStats::default();
        let mut b = KeyStats::default();
        let ts: Vec<f64> = (0..50).map(|i| i as f64 * 120.0).collect();
        for &t in &ts {
            a.push(t);
        }
        // Swap neighbours.
        let mut sw = ts.clone();
        for i in (0..48).step_by(2) {
            sw.swap(i, i + 1);
        }
        for &t in &sw {
            b.push(t);
        }
        assert_eq!(a.finish(), b.finish());
        let mut c = KeyStats::default();
        for &t in &ts {
            c.push(t);
        }
        c.push(0.5); // far in the past
        assert_eq!(c.finish().out_of_order, 1);
    }
}
