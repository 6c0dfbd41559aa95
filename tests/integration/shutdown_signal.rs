//! SIGTERM to a real `haresign serve` process: it stops even while a client holds an unfinished
//! request head, within its shutdown deadline.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

crate::trials! {
    sync: [
        sigterm_ends_the_server_although_a_client_holds_an_unfinished_request,
    ],
}

const PATIENCE: Duration = Duration::from_secs(20);

fn sigterm_ends_the_server_although_a_client_holds_an_unfinished_request() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("test.db").display());
    let mut server = Command::new(env!("CARGO_BIN_EXE_haresign"))
        .args(["--db", &db, "serve", "--bind", "127.0.0.1:0"])
        .args(["--header-timeout", "600s", "--shutdown-timeout", "500ms"])
        .env("HARESIGN_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start haresign serve");
    let mut log = BufReader::new(server.stderr.take().expect("stderr"));
    let address = loop {
        let mut line = String::new();
        if log.read_line(&mut line).expect("read log") == 0 {
            panic!("the server exited before serving: {:?}", server.wait());
        }
        if let Some((_, rest)) = line.split_once("address=") {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    let mut client = TcpStream::connect(&address).expect("connect");
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: testserver\r\n")
        .expect("write");
    // The server has accepted the connection once it answers another client.
    let mut probe = TcpStream::connect(&address).expect("connect");
    probe
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: testserver\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut answer = String::new();
    probe.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = server.try_wait().expect("wait") {
            break exit;
        }
        if started.elapsed() > PATIENCE {
            let _ = server.kill();
            panic!("the server was still running {PATIENCE:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "exit status {exit}");
    let mut rest = Vec::new();
    client
        .set_read_timeout(Some(PATIENCE))
        .expect("read timeout");
    let _ = client.read_to_end(&mut rest);
    assert!(rest.is_empty(), "no response to an unfinished request");
}
