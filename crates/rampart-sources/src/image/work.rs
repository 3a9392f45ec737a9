//! A small work pool for one image: the thread that decompresses a layer hands file contents to
//! workers, with the bytes waiting in the queue bounded, and keeps large files for itself. When the queue is full the producer
//! does the work itself, so memory stays bounded and nothing can deadlock.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};

type Job<'a> = Box<dyn FnOnce() + Send + 'a>;

struct State<'a> {
    queue: VecDeque<(u64, Job<'a>)>,
    bytes: u64,
    done: bool,
}

pub(crate) struct Pool<'a> {
    state: Mutex<State<'a>>,
    ready: Condvar,
    budget: u64,
    workers: usize,
}

impl<'a> Pool<'a> {
    /// Run `job`, which holds about `cost` bytes, now or on a worker.
    /// Large jobs always run on the producer, so at most one large buffer is alive at a time.
    pub(crate) fn submit(&self, cost: u64, job: impl FnOnce() + Send + 'a) {
        if self.workers == 0 || cost > self.budget / 4 {
            job();
            return;
        }
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.bytes.saturating_add(cost) > self.budget && !s.queue.is_empty() {
            drop(s);
            job();
            return;
        }
        s.bytes += cost;
        s.queue.push_back((cost, Box::new(job)));
        drop(s);
        self.ready.notify_one();
    }

    fn work(&self) {
        loop {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            while s.queue.is_empty() && !s.done {
                s = self.ready.wait(s).unwrap_or_else(|e| e.into_inner());
            }
            let Some((cost, job)) = s.queue.pop_front() else {
                return;
            };
            drop(s);
            job();
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.bytes -= cost;
        }
    }
}

/// Run `f` with a pool of `threads - 1` workers (the caller is the producer) and at most
/// `budget` bytes queued; returns when all submitted work is done.
pub(crate) fn with_pool<'a, R>(threads: usize, budget: u64, f: impl FnOnce(&Pool<'a>) -> R) -> R {
    let pool = Pool {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            bytes: 0,
            done: false,
        }),
        ready: Condvar::new(),
        budget,
        workers: threads.saturating_sub(1),
    };
    std::thread::scope(|scope| {
        for _ in 0..pool.workers {
            scope.spawn(|| pool.work());
        }
        let r = f(&pool);
        pool.state.lock().unwrap_or_else(|e| e.into_inner()).done = true;
        pool.ready.notify_all();
        r
    })
}
