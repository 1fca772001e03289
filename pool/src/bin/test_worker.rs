//! A worker for `brinery-pool`'s own tests. Each task's first buffer is a command; the
//! worker obeys it and replies: `echo` (all buffers and fds back), `sleep <ms>`,
//! `exit <code>`, `segv`, `abort`, `hang`, `stage <n> exit <code>` (report a stage, then
//! exit), `pid` (reply with its pid), `sum` (length and byte sum of buffer 1),
//! `def <id>` (reply with definition `id`, or `missing`), `keep` (hold on to buffers 1..
//! for good), `kept` (`<len> <sum>` of each buffer kept, `;`-separated), `big <len>
//! <seed>` (reply with a buffer of `len` bytes, byte i being `i * seed + seed`, in a
//! segment lent to the parent), `wstats` (the worker's segments: `lent cached reused`),
//! `garbage` (reply with a malformed frame: one shared buffer and no descriptor).
//! Other than with `echo` and `keep`, the task's buffers are dropped before the reply.
//!
//! `BRINERY_TEST_WORKER_STARTUP_MS` makes the worker sleep that long before it serves (a
//! slow start-up); `BRINERY_TEST_WORKER_SETUP_MS` makes it set up that long on its first
//! task before starting the task's clock (an initializer), and `..._SETUP_EXIT` exit with
//! that code during that set-up.

use std::os::fd::AsFd;
use std::time::Duration;

use brinery_pool::{Buffer, Endpoint, Message};

fn len_sum(b: &[u8]) -> String {
    let sum: u64 = b.iter().map(|&x| u64::from(x)).sum();
    format!("{} {}", b.len(), sum)
}

fn env_ms(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().expect("a number"))
}

/// Writes a result frame for `id` that names one shared buffer but passes no descriptor.
fn send_garbage(sock: i32, id: u64) {
    let mut frame = Vec::new();
    for word in [2u32, 0, 1, 1] {
        frame.extend_from_slice(&word.to_ne_bytes());
    }
    for word in [id, 4096, 1] {
        frame.extend_from_slice(&word.to_ne_bytes());
    }
    // SAFETY: writing a live buffer to our socket.
    unsafe { libc::write(sock, frame.as_ptr().cast(), frame.len()) };
}

fn main() {
    let sock: i32 = std::env::var(brinery_pool::launch::FDS_ENV)
        .ok()
        .and_then(|v| v.split(',').next().and_then(|s| s.parse().ok()))
        .expect("worker descriptors");
    if let Some(ms) = env_ms("BRINERY_TEST_WORKER_STARTUP_MS") {
        std::thread::sleep(Duration::from_millis(ms));
    }
    let mut ep = Endpoint::from_env().expect("worker descriptors");
    let mut kept = Vec::new();
    let mut setup = env_ms("BRINERY_TEST_WORKER_SETUP_MS");
    loop {
        let got = if setup.is_some() {
            ep.recv_before_setup()
        } else {
            ep.recv()
        };
        let Some((id, msg)) = got.expect("recv") else {
            break;
        };
        if let Some(ms) = setup.take() {
            std::thread::sleep(Duration::from_millis(ms));
            if let Some(code) = env_ms("BRINERY_TEST_WORKER_SETUP_EXIT") {
                std::process::exit(code as i32);
            }
            ep.start_clock();
        }
        let cmd = String::from_utf8_lossy(&msg.buffers[0]).into_owned();
        let words: Vec<&str> = cmd.split_whitespace().collect();
        ep.set_stage(2);
        let reply: Vec<u8> = match words.as_slice() {
            ["echo"] => {
                let bufs: Vec<_> = msg.buffers.iter().map(|b| b.chunk()).collect();
                let fds: Vec<_> = msg.fds.iter().map(|f| f.as_fd()).collect();
                ep.reply(id, &bufs, &fds).expect("reply");
                continue;
            }
            ["sleep", ms] => {
                std::thread::sleep(Duration::from_millis(ms.parse().unwrap()));
                b"slept".to_vec()
            }
            ["exit", code] => std::process::exit(code.parse().unwrap()),
            ["stage", n, "exit", code] => {
                ep.set_stage(n.parse().unwrap());
                std::process::exit(code.parse().unwrap())
            }
            // SAFETY: deliberately crashing is the point of this command.
            ["segv"] => unsafe {
                // Rust's own SIGSEGV handler (stack-overflow detection) must not intercept it.
                libc::signal(libc::SIGSEGV, libc::SIG_DFL);
                libc::raise(libc::SIGSEGV);
                unreachable!()
            },
            ["abort"] => std::process::abort(),
            ["hang"] => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
            ["def", n] => match ep.definition(n.parse().unwrap()) {
                Some(d) => d.buffers[0].to_vec(),
                None => b"missing".to_vec(),
            },
            ["pid"] => std::process::id().to_string().into_bytes(),
            ["garbage"] => {
                send_garbage(sock, id);
                continue;
            }
            ["sum"] => len_sum(&msg.buffers[1]).into_bytes(),
            ["keep"] => {
                kept.extend(msg.buffers.into_iter().skip(1));
                ep.reply(id, &[b"kept"[..].into()], &[]).expect("reply");
                continue;
            }
            ["big", len, seed] => {
                let seed: u8 = seed.parse().unwrap();
                let data: Vec<u8> = (0..len.parse::<usize>().unwrap())
                    .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
                    .collect();
                let big = ep.segments().lend_copy(&data).expect("segment");
                let reply = Message {
                    buffers: vec![Buffer::Inline(b"big".to_vec()), big],
                    fds: vec![],
                };
                drop(msg);
                ep.reply_message(id, &reply, &[]).expect("reply");
                continue;
            }
            ["wstats"] => {
                let (lent, cached, reused) = ep.segments().stats();
                format!("{lent} {cached} {reused}").into_bytes()
            }
            ["kept"] => {
                let all: Vec<String> = kept.iter().map(|b| len_sum(b)).collect();
                all.join(";").into_bytes()
            }
            _ => format!("unknown command {cmd:?}").into_bytes(),
        };
        drop(msg);
        ep.reply(id, &[reply[..].into()], &[]).expect("reply");
    }
}
