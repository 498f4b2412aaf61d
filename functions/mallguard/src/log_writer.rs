//! Where the log's lines go: gathered in memory and written out together by a thread of its own, a few
//! milliseconds after the first of them, in one write.
//!
//! A held order logs some eight lines. Handing each to a writing thread through a channel woke that thread
//! for nearly every line (a futex wake-up on the request's thread and a context switch on the other), which
//! cost more than writing the lines. Here a line is appended to a buffer under a lock; only the first line
//! after a quiet moment wakes the thread. Never lossy: when more than [`Gathering::limit`] bytes wait (the
//! thread fell behind, or has stopped), the line that would overflow writes what waits and itself at once.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How lines are gathered before they are written.
#[derive(Debug, Clone, Copy)]
pub struct Gathering {
    /// How long the thread waits, after a line arrives, for others to join it.
    pub every: Duration,
    /// How many bytes may wait before a line is written in place.
    pub limit: usize,
}

/// Gives each log event a writer appending to the shared buffer (a `MakeWriter` for `tracing_subscriber`).
#[derive(Clone)]
pub struct LogWriter(Arc<Shared>);

/// Writes what waits and stops the thread when dropped: drop it before the program ends.
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    waiting: Mutex<Waiting>,
    arrived: Condvar,
    /// Taken before `waiting` is let go of, so what is written keeps the order it was logged in.
    out: Mutex<Box<dyn Write + Send>>,
    limit: usize,
}

#[derive(Default)]
struct Waiting {
    bytes: Vec<u8>,
    closed: bool,
}

/// A writer gathering into a buffer that a thread named `name` writes to `out` as `gathering` says.
pub fn gathered(
    out: Box<dyn Write + Send>,
    gathering: Gathering,
    name: &str,
) -> std::io::Result<(LogWriter, LogGuard)> {
    let shared = Arc::new(Shared {
        waiting: Mutex::new(Waiting::default()),
        arrived: Condvar::new(),
        out: Mutex::new(out),
        limit: gathering.limit,
    });
    let thread = {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || shared.write_out(gathering.every))?
    };
    Ok((
        LogWriter(Arc::clone(&shared)),
        LogGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

impl Shared {
    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn out(&self) -> MutexGuard<'_, Box<dyn Write + Send>> {
        self.out.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The thread: waits for a line, lets others join it for `every`, writes them all; until closed.
    fn write_out(&self, every: Duration) {
        let mut spare = Vec::new();
        loop {
            let mut waiting = self.waiting();
            while waiting.bytes.is_empty() && !waiting.closed {
                waiting = self.arrived.wait(waiting).unwrap_or_else(PoisonError::into_inner);
            }
            // Others join the first line for `every`, unless the log is closed meanwhile.
            let until = std::time::Instant::now() + every;
            loop {
                let left = until.saturating_duration_since(std::time::Instant::now());
                if waiting.closed || left.is_zero() {
                    break;
                }
                waiting = self
                    .arrived
                    .wait_timeout(waiting, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            let closed = waiting.closed;
            std::mem::swap(&mut waiting.bytes, &mut spare);
            let mut out = self.out();
            drop(waiting);
            // A log that cannot be written has nowhere to say so: the lines are dropped, the program goes on.
            let _ = out.write_all(&spare).and_then(|()| out.flush());
            drop(out);
            spare.clear();
            if closed {
                return;
            }
        }
    }
}

impl LogWriter {
    fn append(&self, line: &[u8]) -> std::io::Result<()> {
        let mut waiting = self.0.waiting();
        if waiting.closed || waiting.bytes.len() + line.len() > self.0.limit {
            let mut out = self.0.out();
            let before = std::mem::take(&mut waiting.bytes);
            drop(waiting);
            out.write_all(&before)?;
            out.write_all(line)?;
            return out.flush();
        }
        let first = waiting.bytes.is_empty();
        waiting.bytes.extend_from_slice(line);
        drop(waiting);
        if first {
            self.0.arrived.notify_one();
        }
        Ok(())
    }
}

/// One event's line, appended whole when the formatter is done with it.
pub struct Line<'a> {
    writer: &'a LogWriter,
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.append(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line { writer: self }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.waiting().closed = true;
        self.shared.arrived.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the writer wrote, and in how many writes.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut sink = self.0.lock().unwrap();
            sink.0.extend_from_slice(buf);
            sink.1 += 1;
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().0.clone()).unwrap()
        }

        fn writes(&self) -> usize {
            self.0.lock().unwrap().1
        }
    }

    fn line(writer: &LogWriter, text: &str) {
        use tracing_subscriber::fmt::MakeWriter;
        writer.make_writer().write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn lines_from_many_threads_are_gathered_whole_in_the_order_each_logged_them() {
        let sink = Sink::default();
        // The thread waits an hour after the first line: only the guard writes, so every line is gathered.
        let gathering = Gathering {
            every: Duration::from_secs(3_600),
            limit: 1024 * 1024,
        };
        let (writer, guard) = gathered(Box::new(sink.clone()), gathering, "test-log").unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let writer = writer.clone();
                s.spawn(move || {
                    for n in 0..500 {
                        line(&writer, &format!("thread {t} line {n:04}\n"));
                    }
                });
            }
        });
        assert_eq!(sink.writes(), 0, "the lines wait for the thread");
        drop(guard);
        assert_eq!(sink.writes(), 1, "2,000 lines in one write");
        let text = sink.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2_000);
        for t in 0..4 {
            let own: Vec<String> = lines
                .iter()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .map(|l| l.to_string())
                .collect();
            let expected: Vec<String> = (0..500).map(|n| format!("thread {t} line {n:04}")).collect();
            assert_eq!(own, expected, "thread {t}'s lines whole and in order");
        }
    }

    #[test]
    fn the_thread_writes_a_line_soon_after_it_is_logged() {
        let sink = Sink::default();
        let gathering = Gathering {
            every: Duration::from_millis(1),
            limit: 1024,
        };
        let (writer, guard) = gathered(Box::new(sink.clone()), gathering, "test-log").unwrap();
        line(&writer, "order ingested\n");
        // A hang guard, not a measure: the line must come out while the log stays open.
        let until = std::time::Instant::now() + Duration::from_secs(30);
        while sink.text().is_empty() && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(sink.text(), "order ingested\n");
        drop(guard);
        assert_eq!(sink.text(), "order ingested\n", "written once");
    }

    #[test]
    fn a_line_that_would_overflow_the_buffer_is_written_at_once_after_what_waits() {
        let sink = Sink::default();
        // The thread waits an hour: only the overflow and the guard can write.
        let gathering = Gathering {
            every: Duration::from_secs(3_600),
            limit: 64,
        };
        let (writer, guard) = gathered(Box::new(sink.clone()), gathering, "test-log").unwrap();
        for n in 0..3 {
            line(&writer, &format!("line {n} of twenty\n"));
        }
        assert_eq!(sink.text(), "", "three lines wait");
        line(&writer, "line 3 of twenty\n");
        assert_eq!(
            sink.text(),
            "line 0 of twenty\nline 1 of twenty\nline 2 of twenty\nline 3 of twenty\n",
            "the fourth would overflow: all four written, in order"
        );
        line(&writer, "line 4 of twenty\n");
        // The guard writes what waits even while the thread sleeps (it is told the log is closed).
        drop(guard);
        assert!(
            sink.text().ends_with("line 3 of twenty\nline 4 of twenty\n"),
            "{}",
            sink.text()
        );
    }
}
