//! Threads that run beside the thread that starts them from their first instruction, not a
//! millisecond later.
//!
//! Some kernels queue a new thread on its parent's CPU and move one of the two only when the
//! load balancer next runs. This project's CI machine does (a VM kernel booted with
//! `sched_vcpu_pack`): a thread spawned there ran after its parent's next millisecond of work, or
//! its parent after the thread's, in two runs of three, while the other CPU idled. A render takes
//! a few milliseconds, so that cost most of what its second thread gains.
//!
//! So a thread started here moves off its parent's CPU when it finds itself on it, by narrowing
//! its CPU set to the others it may use and widening it again at once (it stays free to move),
//! and the parent yields once, so that a child queued behind it runs now and can move. Where the
//! kernel already placed the child elsewhere, neither does anything. Every thread a render
//! starts (the thread that builds the engines and then renders, the staging helper, the thread
//! that frees the render's values) starts here.
//!
//! The child does not grow its heap ahead of its work (it once grew it by 4 MiB, in 32
//! `mprotect` calls, so that growing it later would not stall its parent's page faults: that
//! cost 4 % of a `production` render, more than it saved).

use std::thread::{Scope, ScopedJoinHandle};

/// Spawns `f` on `scope`, running beside this thread (see the module).
pub fn spawn_beside<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    f: impl FnOnce() -> T + Send + 'scope,
) -> ScopedJoinHandle<'scope, T> {
    let parent = current_cpu();
    let handle = scope.spawn(move || {
        leave(parent);
        f()
    });
    std::thread::yield_now();
    handle
}

/// Spawns `f` on a thread named `name` that the process does not wait for, running beside this
/// one. Where no thread can start, `f` is dropped here, unrun.
pub fn spawn_detached(name: &str, f: impl FnOnce() + Send + 'static) {
    let parent = current_cpu();
    let spawned = std::thread::Builder::new().name(name.to_owned()).spawn(move || {
        leave(parent);
        f();
    });
    if spawned.is_ok() {
        std::thread::yield_now();
    }
}

/// The CPU this thread runs on, where the kernel says.
fn current_cpu() -> Option<usize> {
    #[cfg(target_os = "linux")]
    return Some(rustix::thread::sched_getcpu());
    #[cfg(not(target_os = "linux"))]
    None
}

/// Moves this thread off `cpu` if it runs there and may run on another CPU; its CPU set is the
/// same afterwards.
fn leave(cpu: Option<usize>) {
    #[cfg(target_os = "linux")]
    {
        use rustix::thread::{sched_getaffinity, sched_getcpu, sched_setaffinity};
        let Some(cpu) = cpu.filter(|&cpu| cpu == sched_getcpu()) else { return };
        let Ok(allowed) = sched_getaffinity(None) else { return };
        let mut elsewhere = allowed;
        elsewhere.unset(cpu);
        // Narrowing the set moves this thread before the call returns.
        if elsewhere.count() > 0 && sched_setaffinity(None, &elsewhere).is_ok() {
            let _ = sched_setaffinity(None, &allowed);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use rustix::thread::{sched_getaffinity, sched_getcpu};

    use super::*;

    #[test]
    fn a_thread_on_its_parents_cpu_moves_off_it_and_stays_free_to_move() {
        let allowed = sched_getaffinity(None).unwrap();
        if allowed.count() < 2 {
            eprintln!("skipped: this thread may run on one CPU only");
            return;
        }
        // On a thread of its own, so the test harness's thread keeps its CPU set whatever happens.
        let (before, after, set_after) = std::thread::spawn(move || {
            let before = sched_getcpu();
            leave(Some(before));
            (before, sched_getcpu(), sched_getaffinity(None).unwrap())
        })
        .join()
        .unwrap();
        assert_ne!(before, after, "still on CPU {before}");
        assert_eq!(set_after, allowed, "the CPU set was not widened again");
    }

    #[test]
    fn a_thread_elsewhere_or_with_nowhere_to_go_stays() {
        let cpu = sched_getcpu();
        let other = (cpu + 1) % rustix::thread::CpuSet::MAX_CPU;
        // Another CPU than this thread's: nothing to leave (the thread may move by itself, but
        // `leave` must not move it: its set stays whole).
        let allowed = sched_getaffinity(None).unwrap();
        leave(Some(other));
        assert_eq!(sched_getaffinity(None).unwrap(), allowed);
        // A thread allowed one CPU stays on it.
        let stayed = std::thread::spawn(|| {
            let mut only = rustix::thread::CpuSet::new();
            only.set(sched_getcpu());
            rustix::thread::sched_setaffinity(None, &only).unwrap();
            let cpu = sched_getcpu();
            leave(Some(cpu));
            (cpu, sched_getcpu(), sched_getaffinity(None).unwrap() == only)
        })
        .join()
        .unwrap();
        assert_eq!(stayed.0, stayed.1);
        assert!(stayed.2, "the one-CPU set changed");
    }

    #[test]
    fn spawned_work_runs_and_returns() {
        let n = std::thread::scope(|s| spawn_beside(s, || 6 * 7).join().unwrap());
        assert_eq!(n, 42);
        let (tx, rx) = std::sync::mpsc::channel();
        spawn_detached("test", move || tx.send(7).unwrap());
        assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap(), 7);
    }
}
