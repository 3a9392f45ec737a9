//! Per-key limits, enforced in memory: requests per minute, tokens per minute, concurrent
//! requests, and spend budgets.
//!
//! Rates use a sliding-window counter (the previous minute's count weighted by how much of it
//! still overlaps the last 60 seconds, plus the current minute's count), which needs two numbers
//! per limit and gives an exact `Retry-After`. Tokens are only known once a response ends, so a
//! request is admitted while the key's token window has room and its tokens are charged when it
//! ends. Spend works the same way against the budget of the current period.
//!
//! So that many requests sent at once cannot all pass a nearly spent budget (or a nearly full
//! token window) before any of them is charged, each admitted request also *reserves* an
//! estimate of its tokens and spend ([`Estimate`]: its prompt at 4 bytes a token, plus its
//! `max_tokens`, or 256 when it sets none) until it ends. A request is refused when the
//! reservations of those in flight and its own would pass the limit; one alone is still admitted
//! while the limit is not reached, as before.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::keys::{KeyEntry, KeyRuntime};

const WINDOW_MS: i64 = 60_000;

/// A budget's period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BudgetPeriod {
    /// The key's whole life.
    #[default]
    Total,
    /// A UTC day.
    Day,
    /// A UTC calendar month.
    Month,
}

impl BudgetPeriod {
    /// Parse `total`, `day`/`daily`, `month`/`monthly`.
    pub fn parse(s: &str) -> Option<BudgetPeriod> {
        Some(match s {
            "total" | "lifetime" => BudgetPeriod::Total,
            "day" | "daily" => BudgetPeriod::Day,
            "month" | "monthly" => BudgetPeriod::Month,
            _ => return None,
        })
    }

    /// Canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetPeriod::Total => "total",
            BudgetPeriod::Day => "day",
            BudgetPeriod::Month => "month",
        }
    }

    /// Start and end (ms, UTC) of the period containing `now_ms`; `Total` is all time.
    pub fn bounds(self, now_ms: i64) -> (i64, i64) {
        match self {
            BudgetPeriod::Total => (i64::MIN, i64::MAX),
            BudgetPeriod::Day => {
                let start = now_ms.div_euclid(86_400_000) * 86_400_000;
                (start, start + 86_400_000)
            }
            BudgetPeriod::Month => {
                let Ok(ts) = jiff::Timestamp::from_millisecond(now_ms) else {
                    return (i64::MIN, i64::MAX);
                };
                let d = ts.to_zoned(jiff::tz::TimeZone::UTC).date();
                let first = d.first_of_month();
                let next = first
                    .checked_add(jiff::Span::new().months(1))
                    .unwrap_or(first);
                let ms = |date: jiff::civil::Date| {
                    date.to_zoned(jiff::tz::TimeZone::UTC)
                        .map(|z| z.timestamp().as_millisecond())
                };
                match (ms(first), ms(next)) {
                    (Ok(a), Ok(b)) => (a, b),
                    _ => (i64::MIN, i64::MAX),
                }
            }
        }
    }
}

/// One sliding-window counter.
#[derive(Clone, Copy, Debug, Default)]
struct Window {
    start_ms: i64,
    current: u64,
    previous: u64,
}

impl Window {
    fn roll(&mut self, now_ms: i64) {
        let start = now_ms.div_euclid(WINDOW_MS) * WINDOW_MS;
        if start == self.start_ms {
            return;
        }
        self.previous = if start - self.start_ms == WINDOW_MS {
            self.current
        } else {
            0
        };
        self.current = 0;
        self.start_ms = start;
    }

    fn weight_prev(&self, now_ms: i64) -> f64 {
        1.0 - ((now_ms - self.start_ms) as f64 / WINDOW_MS as f64).clamp(0.0, 1.0)
    }

    /// Estimated count over the last 60 s.
    fn estimate(&self, now_ms: i64) -> f64 {
        self.previous as f64 * self.weight_prev(now_ms) + self.current as f64
    }

    /// Seconds until `estimate + add <= limit` (≥ 1).
    fn retry_after(&self, now_ms: i64, limit: u64, add: u64) -> u64 {
        let room = limit as f64 - add as f64 - self.current as f64;
        let wait_ms = if room < 0.0 || self.previous == 0 {
            // The current minute alone is full: wait for the next one, then the previous weight.
            let next = self.start_ms + WINDOW_MS;
            let need = (self.current as f64 + add as f64 - limit as f64).max(0.0);
            let frac = if self.current > 0 {
                (need / self.current as f64).clamp(0.0, 1.0)
            } else {
                0.0
            };
            (next - now_ms) as f64 + frac * WINDOW_MS as f64
        } else {
            // prev · (1 − t/60 s) ≤ room  ⇔  t ≥ 60 s · (1 − room/prev)
            let t = WINDOW_MS as f64 * (1.0 - room / self.previous as f64);
            t - (now_ms - self.start_ms) as f64
        };
        ((wait_ms / 1000.0).ceil() as u64).max(1)
    }
}

/// The rate windows of one key.
#[derive(Debug, Default)]
pub struct Windows {
    requests: Window,
    tokens: Window,
}

/// Which limit was hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Requests per minute.
    Rpm,
    /// Tokens per minute.
    Tpm,
    /// Concurrent requests.
    Concurrency,
    /// Spend budget.
    Budget,
}

impl Limit {
    /// Short name (metrics label, audit decision).
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Rpm => "rpm",
            Limit::Tpm => "tpm",
            Limit::Concurrency => "concurrency",
            Limit::Budget => "budget",
        }
    }
}

/// A refused request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitHit {
    /// Which limit.
    pub limit: Limit,
    /// Seconds until a retry can succeed.
    pub retry_after_secs: u64,
}

/// What an admitted request is expected to use, reserved until it ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Estimate {
    /// Tokens (prompt and completion).
    pub tokens: u64,
    /// Spend, nano-USD.
    pub nanos: i64,
}

/// A concurrency slot and the request's reservation; released on drop.
#[derive(Debug)]
pub struct Permit {
    runtime: Arc<KeyRuntime>,
    reserved: Estimate,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let rt = &self.runtime;
        rt.inflight.fetch_sub(1, Ordering::AcqRel);
        rt.reserved_tokens
            .fetch_sub(self.reserved.tokens, Ordering::AcqRel);
        rt.reserved_nanos
            .fetch_sub(self.reserved.nanos, Ordering::AcqRel);
    }
}

/// Roll the budget period forward if `now_ms` left it.
fn budget_spent(key: &KeyEntry, now_ms: i64) -> (i64, i64) {
    let rt = &key.runtime;
    let (start, end) = key.budget_period.bounds(now_ms);
    if key.budget_period != BudgetPeriod::Total {
        let cur = rt.period_start_ms.load(Ordering::Acquire);
        if cur != start
            && rt
                .period_start_ms
                .compare_exchange(cur, start, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            rt.spent_nanos.store(0, Ordering::Release);
        }
    }
    (rt.spent_nanos.load(Ordering::Acquire), end)
}

/// Admit one request for `key` at `now_ms` expected to use `est`, or say which limit refuses it.
pub fn admit(key: &KeyEntry, now_ms: i64, est: Estimate) -> Result<Permit, LimitHit> {
    let rec = &key.record;
    let rt = &key.runtime;
    // One lock for the checks and the reservation, so that concurrent requests see each
    // other's reservations; a key without rate or spend limits takes none.
    let mut guard =
        (rec.budget_nanos.is_some() || rec.rpm.is_some() || rec.tpm.is_some()).then(|| {
            match rt.windows.lock() {
                Ok(w) => w,
                Err(p) => p.into_inner(),
            }
        });
    if let Some(budget) = rec.budget_nanos {
        let (spent, end) = budget_spent(key, now_ms);
        let reserved = rt.reserved_nanos.load(Ordering::Acquire);
        let until_end = if end == i64::MAX {
            86_400
        } else {
            ((end - now_ms) / 1000).max(1) as u64
        };
        if spent >= budget {
            return Err(LimitHit {
                limit: Limit::Budget,
                retry_after_secs: until_end,
            });
        }
        if reserved > 0 && spent.saturating_add(reserved).saturating_add(est.nanos) > budget {
            // Requests in flight may leave room when they end.
            return Err(LimitHit {
                limit: Limit::Budget,
                retry_after_secs: 1,
            });
        }
    }
    if let Some(max) = rec.max_concurrency {
        let prev = rt.inflight.fetch_add(1, Ordering::AcqRel);
        if prev >= max {
            rt.inflight.fetch_sub(1, Ordering::AcqRel);
            return Err(LimitHit {
                limit: Limit::Concurrency,
                retry_after_secs: 1,
            });
        }
    } else {
        rt.inflight.fetch_add(1, Ordering::AcqRel);
    }
    let mut permit = Permit {
        runtime: Arc::clone(rt),
        reserved: Estimate::default(),
    };
    if let Some(w) = guard
        .as_mut()
        .filter(|_| rec.rpm.is_some() || rec.tpm.is_some())
    {
        w.requests.roll(now_ms);
        w.tokens.roll(now_ms);
        if let Some(tpm) = rec.tpm {
            let reserved = rt.reserved_tokens.load(Ordering::Acquire);
            let used = w.tokens.estimate(now_ms);
            if used >= tpm as f64 - 1e-6 {
                return Err(LimitHit {
                    limit: Limit::Tpm,
                    retry_after_secs: w.tokens.retry_after(now_ms, tpm.saturating_sub(1), 0),
                });
            }
            if reserved > 0 && used + (reserved + est.tokens) as f64 > tpm as f64 + 1e-6 {
                // Requests in flight may leave room when they end.
                return Err(LimitHit {
                    limit: Limit::Tpm,
                    retry_after_secs: 1,
                });
            }
        }
        if let Some(rpm) = rec.rpm {
            if w.requests.estimate(now_ms) + 1.0 > rpm as f64 + 1e-6 {
                return Err(LimitHit {
                    limit: Limit::Rpm,
                    retry_after_secs: w.requests.retry_after(now_ms, rpm, 1),
                });
            }
            w.requests.current += 1;
        }
    }
    if rec.tpm.is_some() {
        rt.reserved_tokens.fetch_add(est.tokens, Ordering::AcqRel);
        permit.reserved.tokens = est.tokens;
    }
    if rec.budget_nanos.is_some() {
        rt.reserved_nanos.fetch_add(est.nanos, Ordering::AcqRel);
        permit.reserved.nanos = est.nanos;
    }
    Ok(permit)
}

/// Charge `tokens` and `cost_nanos` to `key` once a request has ended.
pub fn charge(key: &KeyEntry, now_ms: i64, tokens: u64, cost_nanos: i64) {
    let rt = &key.runtime;
    if key.record.tpm.is_some() && tokens > 0 {
        let mut w = match rt.windows.lock() {
            Ok(w) => w,
            Err(p) => p.into_inner(),
        };
        w.tokens.roll(now_ms);
        w.tokens.current = w.tokens.current.saturating_add(tokens);
    }
    if cost_nanos != 0 {
        budget_spent(key, now_ms);
        rt.spent_nanos.fetch_add(cost_nanos, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyHasher, KeySpec, new_key};

    fn key(spec: KeySpec) -> KeyEntry {
        let (_k, record) = new_key(&KeyHasher::new(b"s"), &spec, 0, None).unwrap();
        KeyEntry {
            models: vec![],
            budget_period: crate::keys::period_of(&record),
            record,
            runtime: Arc::default(),
        }
    }

    const T0: i64 = 1_700_000_080_000; // 40 s into a minute

    #[test]
    fn rpm_refuses_the_request_over_the_limit_and_says_when_to_retry() {
        let k = key(KeySpec {
            name: "k".into(),
            rpm: Some(3),
            ..Default::default()
        });
        for _ in 0..3 {
            drop(admit(&k, T0, Estimate::default()).unwrap());
        }
        let hit = admit(&k, T0, Estimate::default()).unwrap_err();
        assert_eq!(hit.limit, Limit::Rpm);
        // The current minute ends in 20 s; after it the 3 requests still weigh 3·(1 − t/60).
        assert!(
            hit.retry_after_secs >= 20 && hit.retry_after_secs <= 60,
            "{hit:?}"
        );
        // After the retry-after, a request is admitted again.
        let later = T0 + hit.retry_after_secs as i64 * 1000;
        assert!(admit(&k, later, Estimate::default()).is_ok());
        // Two minutes later everything is forgotten.
        assert!(admit(&k, T0 + 130_000, Estimate::default()).is_ok());
    }

    #[test]
    fn concurrency_is_released_when_the_permit_drops() {
        let k = key(KeySpec {
            name: "k".into(),
            max_concurrency: Some(2),
            ..Default::default()
        });
        let a = admit(&k, T0, Estimate::default()).unwrap();
        let _b = admit(&k, T0, Estimate::default()).unwrap();
        assert_eq!(
            admit(&k, T0, Estimate::default()).unwrap_err().limit,
            Limit::Concurrency
        );
        drop(a);
        assert!(admit(&k, T0, Estimate::default()).is_ok());
    }

    #[test]
    fn tokens_and_budget_are_charged_after_the_fact() {
        let k = key(KeySpec {
            name: "k".into(),
            tpm: Some(100),
            budget_usd: Some(0.000_001),
            budget_period: BudgetPeriod::Day,
            ..Default::default()
        });
        drop(admit(&k, T0, Estimate::default()).unwrap());
        charge(&k, T0, 150, 0);
        let hit = admit(&k, T0, Estimate::default()).unwrap_err();
        assert_eq!(hit.limit, Limit::Tpm);
        assert!(hit.retry_after_secs >= 1);
        let k2 = key(KeySpec {
            name: "k".into(),
            budget_usd: Some(0.000_001),
            budget_period: BudgetPeriod::Day,
            ..Default::default()
        });
        drop(admit(&k2, T0, Estimate::default()).unwrap());
        charge(&k2, T0, 0, 1_000);
        let hit = admit(&k2, T0, Estimate::default()).unwrap_err();
        assert_eq!(hit.limit, Limit::Budget);
        // The next day the budget is fresh.
        assert!(admit(&k2, T0 + 86_400_000, Estimate::default()).is_ok());
    }

    #[test]
    fn requests_in_flight_reserve_their_estimate_against_budget_and_tokens() {
        // A budget for about 1.3 requests: 40 sent at once, none yet charged.
        let k = key(KeySpec {
            name: "k".into(),
            budget_usd: Some(0.000_01),
            ..Default::default()
        });
        let est = Estimate {
            tokens: 30,
            nanos: 7_500,
        };
        let permits: Vec<_> = (0..40).filter_map(|_| admit(&k, T0, est).ok()).collect();
        // 7,500 + 7,500 > 10,000: the first is admitted alone, no second fits beside it.
        assert_eq!(permits.len(), 1);
        let hit = admit(&k, T0, est).unwrap_err();
        assert_eq!((hit.limit, hit.retry_after_secs), (Limit::Budget, 1));
        // It ends and is charged: the reservation is gone, the spend counts, and the next one
        // is admitted (the budget is not yet reached), then it is.
        for p in permits {
            charge(&k, T0, 30, 7_500);
            drop(p);
        }
        assert_eq!(k.runtime.reserved_nanos.load(Ordering::Acquire), 0);
        let p = admit(&k, T0, est).unwrap();
        charge(&k, T0, 30, 7_500);
        drop(p);
        let hit = admit(&k, T0, est).unwrap_err();
        assert_eq!((hit.limit, hit.retry_after_secs), (Limit::Budget, 86_400));

        let k = key(KeySpec {
            name: "k".into(),
            tpm: Some(30),
            ..Default::default()
        });
        let est = Estimate {
            tokens: 20,
            nanos: 0,
        };
        let a = admit(&k, T0, est).unwrap();
        assert_eq!(admit(&k, T0, est).unwrap_err().limit, Limit::Tpm);
        drop(a);
        assert!(admit(&k, T0, est).is_ok());
    }

    #[test]
    fn month_bounds_are_calendar_months() {
        // 2024-02-15T00:00:00Z
        let (a, b) = BudgetPeriod::Month.bounds(1_707_955_200_000);
        assert_eq!(a, 1_706_745_600_000); // 2024-02-01
        assert_eq!(b, 1_709_251_200_000); // 2024-03-01
    }
}
