//! Clients that open a connection and never finish their request (a stalled network, or someone holding
//! the server's connections on purpose) are cut off, and meanwhile everyone else is still served.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::start_with_env;

/// The limits the test gives the server, instead of its defaults of 10 s (headers) and 30 s (requests).
const LIMITS: [(&str, &str); 2] = [
    ("MALLGUARD_HEADER_TIMEOUT_SECS", "2"),
    ("MALLGUARD_REQUEST_TIMEOUT_SECS", "2"),
];

/// Far above the 2 s the server is given, far below "never" (before the limits, such connections stayed
/// open as long as the client liked).
const CLOSED_WITHIN: Duration = Duration::from_secs(15);

/// How many stalled connections the test holds at once.
const STALLED: usize = 20;

fn connect(url: &str) -> TcpStream {
    let stream = TcpStream::connect(url.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(CLOSED_WITHIN)).unwrap();
    stream
}

/// What the server sends until it closes the connection; an error when it keeps the connection open
/// past [`CLOSED_WITHIN`].
fn read_until_closed(stream: &mut TcpStream) -> Result<String, String> {
    let mut received = vec![];
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(String::from_utf8_lossy(&received).into_owned()),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => {
                return Ok(String::from_utf8_lossy(&received).into_owned());
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!(
                    "still open after {CLOSED_WITHIN:?}; received {:?}",
                    String::from_utf8_lossy(&received)
                ));
            }
            Err(e) => return Err(format!("reading failed: {e}")),
        }
    }
}

#[tokio::test]
async fn connections_that_never_finish_their_headers_are_closed_and_others_are_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = start_with_env(&dir.path().join(".mallguard"), &LIMITS);

    let mut stalled: Vec<TcpStream> = (0..STALLED)
        .map(|i| {
            let mut stream = connect(&url);
            // A request line and part of the headers, never the blank line that ends them.
            let partial = if i % 2 == 0 {
                "POST /webhooks/generic HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl".to_owned()
            } else {
                "GET /h/".to_owned()
            };
            stream.write_all(partial.as_bytes()).unwrap();
            stream
        })
        .collect();

    // Meanwhile a normal request is answered.
    let index = reqwest::get(format!("{url}/")).await.unwrap();
    assert_eq!(index.status(), 200);

    // One after another: all were cut off at about the same time, so only the first read waits. The first
    // still open fails the test at once.
    let closed = tokio::task::spawn_blocking(move || {
        let mut answers = vec![];
        for (i, stream) in stalled.iter_mut().enumerate() {
            answers.push(read_until_closed(stream).map_err(|e| format!("stalled connection {i}: {e}"))?);
        }
        Ok::<_, String>(answers)
    })
    .await
    .unwrap();
    for sent in closed.unwrap_or_else(|e| panic!("{e}")) {
        assert!(
            !sent.starts_with("HTTP/1.1 2"),
            "an unfinished request is not answered as if it were whole: {sent}"
        );
    }

    // And the server still serves after them.
    let index = reqwest::get(format!("{url}/")).await.unwrap();
    assert_eq!(index.status(), 200);
}

#[tokio::test]
async fn a_body_that_stops_coming_is_answered_408_and_its_connection_closed() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = start_with_env(&dir.path().join(".mallguard"), &LIMITS);

    let mut stream = connect(&url);
    // Whole headers announcing 1000 bytes, then ten of them.
    let head = "POST /webhooks/generic HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                Content-Length: 1000\r\n\r\n{\"order\": ";
    stream.write_all(head.as_bytes()).unwrap();

    let index = reqwest::get(format!("{url}/")).await.unwrap();
    assert_eq!(index.status(), 200, "others are served meanwhile");

    let sent = tokio::task::spawn_blocking(move || read_until_closed(&mut stream))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("the stalled request: {e}"));
    assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
}

#[tokio::test]
async fn beyond_the_connection_limit_a_new_connection_waits_for_a_free_slot() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = LIMITS.to_vec();
    env.push(("MALLGUARD_MAX_CONNECTIONS", "4"));
    let (_server, url) = start_with_env(&dir.path().join(".mallguard"), &env);

    // Four connections that never finish a request take every slot.
    let stalled: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut stream = connect(&url);
            stream.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
            stream
        })
        .collect();

    let answer = tokio::task::spawn_blocking(move || {
        let mut fifth = connect(&url);
        fifth
            .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let answer = read_until_closed(&mut fifth);
        // Which of the four were closed by the time the fifth was answered.
        let closed = stalled.iter().filter(|stream| cut_off(stream)).count();
        (answer, closed)
    })
    .await
    .unwrap();
    let (answer, closed) = answer;
    let answer = answer.unwrap_or_else(|e| panic!("the fifth connection: {e}"));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        closed > 0,
        "the fifth connection was served only once a stalled one was cut off and freed its slot"
    );
}

/// Whether the server has closed `stream` (or written to it, which it does only to close it): a
/// non-blocking read that finds nothing means it is still open.
fn cut_off(mut stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    !matches!(stream.read(&mut [0u8; 64]), Err(e) if e.kind() == ErrorKind::WouldBlock)
}

/// Signed orders are worked on a few at a time (each holds an order and its mails in memory), but a turn is
/// taken only once the body is in and its signature verified: a sender that stalls halfway through its body
/// holds none, so even with a single turn the next webhook and the pages are answered at once.
#[tokio::test]
async fn a_webhook_stalled_halfway_through_its_body_holds_no_turn() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = LIMITS.to_vec();
    env.push(("MALLGUARD_MAX_WEBHOOKS", "1"));
    let (_server, url) = start_with_env(&dir.path().join(".mallguard"), &env);

    let mut stalled = connect(&url);
    stalled
        .write_all(b"POST /webhooks/generic HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"order")
        .unwrap();
    // Time for the server to start on it.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let index = reqwest::get(format!("{url}/")).await.unwrap();
    assert_eq!(index.status(), 200, "a page is served while the webhook stalls");
    let mut next = connect(&url);
    next.write_all(
        b"POST /webhooks/generic HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    )
    .unwrap();
    let (next, stalled) = tokio::task::spawn_blocking(move || {
        let next = read_until_closed(&mut next);
        // The stalled one is still open when the next is answered: the next did not wait for its timeout.
        let open = !cut_off(&stalled);
        stalled.set_nonblocking(false).unwrap();
        (next, open.then(|| read_until_closed(&mut stalled)))
    })
    .await
    .unwrap();
    let next = next.unwrap_or_else(|e| panic!("the next webhook: {e}"));
    assert!(next.starts_with("HTTP/1.1 401"), "unsigned, refused at once: {next}");
    let stalled = stalled
        .expect("the stalled webhook was still open when the next one was answered")
        .unwrap_or_else(|e| panic!("the stalled webhook: {e}"));
    assert!(stalled.starts_with("HTTP/1.1 408"), "{stalled}");
}
