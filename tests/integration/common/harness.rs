//! How the tests become trials of one libtest-compatible binary. A trial that needs PostgreSQL
//! or Redis when its URL is not set is reported as ignored, with the variable to set, rather
//! than passing without having run; each database test is one trial per backend.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use libtest_mimic::{Completion, Failed, Trial};

use super::{Backend, PG_ENV, REDIS_ENV};

/// Declares a module's `trials()`: each list names test functions of that module, and its kind
/// is the function of this file that makes them trials (`each_backend: [a, b]`).
#[macro_export]
macro_rules! trials {
    ($($kind:ident: [$($test:ident),* $(,)?]),* $(,)?) => {
        pub fn trials() -> Vec<libtest_mimic::Trial> {
            let mut trials = Vec::new();
            $($(
                trials.extend($crate::common::harness::$kind(
                    module_path!(),
                    stringify!($test),
                    $test,
                ));
            )*)*
            trials
        }
    };
}

#[derive(Clone, Copy)]
enum Flavor {
    CurrentThread,
    MultiThread,
}

/// `module::test`, without the binary's own name in front.
fn name(module: &str, test: &str) -> String {
    let module = module.split_once("::").map_or(module, |(_, m)| m);
    format!("{module}::{test}")
}

fn block_on(flavor: Flavor, test: impl Future<Output = ()>) {
    let mut builder = match flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(4);
            builder
        }
    };
    builder
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(test);
}

thread_local! {
    /// Reports of the panics of the trial running on this thread, while one is.
    static PANICS: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Keeps the report of a panic on a trial's thread for that trial's failure message, as
/// libtest's capture would: a test that panics on purpose and catches it prints nothing. Panics
/// on other threads are reported as usual.
pub fn capture_panics() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let kept = PANICS.with_borrow_mut(|panics| {
            let Some(panics) = panics else {
                return false;
            };
            panics.push_str(&format!("{info}\n"));
            let backtrace = Backtrace::capture();
            if backtrace.status() == BacktraceStatus::Captured {
                panics.push_str(&format!("{backtrace}\n"));
            }
            true
        });
        if !kept {
            report(info);
        }
    }));
}

/// Runs a test; a panic fails it, with the reports of its panics as the message.
fn run_captured(test: impl FnOnce()) -> Result<(), Failed> {
    PANICS.set(Some(String::new()));
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(test));
    let panics = PANICS.take().unwrap_or_default();
    outcome.map_err(|_| Failed::from(panics.trim_end()))
}

/// A trial that needs no service.
fn plain(name: String, test: impl FnOnce() + Send + 'static) -> Trial {
    Trial::test(name, move || run_captured(test))
}

/// A trial that runs `test` with the value of `needs`, or is ignored when it is not set.
fn needing(name: String, needs: &'static str, test: impl FnOnce(String) + Send + 'static) -> Trial {
    Trial::ignorable_test(name, move || match std::env::var(needs) {
        Ok(value) if !value.is_empty() => {
            run_captured(|| test(value)).map(|()| Completion::Completed)
        }
        _ => Ok(Completion::ignored_with(format!("{needs} is not set"))),
    })
}

/// One trial per backend, `module::test::sqlite` and `module::test::postgres`.
pub fn each_backend<Fut: Future<Output = ()>>(
    module: &str,
    test: &str,
    run: impl FnOnce(Backend) -> Fut + Send + Copy + 'static,
) -> [Trial; 2] {
    let name = name(module, test);
    [
        plain(format!("{name}::sqlite"), move || {
            block_on(Flavor::CurrentThread, run(Backend::Sqlite));
        }),
        needing(format!("{name}::postgres"), PG_ENV, move |_| {
            block_on(Flavor::CurrentThread, run(Backend::Postgres));
        }),
    ]
}

/// An async test on a single-threaded runtime, like `#[tokio::test]`.
pub fn current_thread<Fut: Future<Output = ()>>(
    module: &str,
    test: &str,
    run: impl FnOnce() -> Fut + Send + 'static,
) -> [Trial; 1] {
    [plain(name(module, test), move || {
        block_on(Flavor::CurrentThread, run());
    })]
}

/// An async test whose tasks must run in parallel.
pub fn multi_thread<Fut: Future<Output = ()>>(
    module: &str,
    test: &str,
    run: impl FnOnce() -> Fut + Send + 'static,
) -> [Trial; 1] {
    [plain(name(module, test), move || {
        block_on(Flavor::MultiThread, run());
    })]
}

/// An async test of PostgreSQL alone.
pub fn postgres<Fut: Future<Output = ()>>(
    module: &str,
    test: &str,
    run: impl FnOnce() -> Fut + Send + 'static,
) -> [Trial; 1] {
    [needing(name(module, test), PG_ENV, move |_| {
        block_on(Flavor::CurrentThread, run());
    })]
}

/// An async test given the Redis URL, whose tasks must run in parallel.
pub fn redis_multi_thread<Fut: Future<Output = ()>>(
    module: &str,
    test: &str,
    run: impl FnOnce(String) -> Fut + Send + 'static,
) -> [Trial; 1] {
    [needing(name(module, test), REDIS_ENV, move |url| {
        block_on(Flavor::MultiThread, run(url));
    })]
}

/// A test without a runtime, like `#[test]`.
pub fn sync(module: &str, test: &str, run: impl FnOnce() + Send + 'static) -> [Trial; 1] {
    [plain(name(module, test), run)]
}
