//! A deterministic executor for the simulation: every task is polled in an order chosen by a
//! seeded RNG, and every adapter call yields once, so one seed = one interleaving of all the
//! concurrent deliveries, replayable exactly.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use rand::rngs::StdRng;
use rand::Rng;

pub type Task<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

#[derive(Default)]
pub struct Executor<'a> {
    tasks: Vec<Task<'a>>,
}

impl<'a> Executor<'a> {
    pub fn spawn(&mut self, task: impl Future<Output = ()> + 'a) {
        self.tasks.push(Box::pin(task));
    }

    pub fn is_idle(&self) -> bool {
        self.tasks.is_empty()
    }

    pub fn running(&self) -> usize {
        self.tasks.len()
    }

    /// Polls one task chosen by `rng` once; drops it if it finished.
    pub fn step(&mut self, rng: &mut StdRng) {
        if self.tasks.is_empty() {
            return;
        }
        let i = rng.random_range(0..self.tasks.len());
        let mut cx = Context::from_waker(Waker::noop());
        if self.tasks[i].as_mut().poll(&mut cx).is_ready() {
            drop(self.tasks.swap_remove(i));
        }
    }

    /// Runs every task to completion (random order); panics if they never finish.
    pub fn run_all(&mut self, rng: &mut StdRng) {
        let mut steps = 0u64;
        while !self.tasks.is_empty() {
            self.step(rng);
            steps += 1;
            assert!(steps < 10_000_000, "tasks never finish (livelock?)");
        }
    }
}

/// Returns `Pending` once (waking itself): an interleaving point.
pub fn yield_now() -> impl Future<Output = ()> {
    struct YieldNow(bool);
    impl Future for YieldNow {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                Poll::Ready(())
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
    YieldNow(false)
}

/// Runs one future to completion on the spot (tests without concurrency).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
