//! How `FrameReader::recv` waits: it sleeps until a frame comes (not woken when the peer
//! reads what this end sent), frames sent ahead (read without a poll) and frames waited
//! for arrive alike, and a peer hanging up, cleanly or part way through a frame, ends the
//! wait.

use super::*;

fn send(out: &mut Outgoing, sock: BorrowedFd<'_>, id: u64) {
    out.push(RESULT, id, &[Chunk::Bytes(b"x")], &[], 1 << 20)
        .unwrap();
    out.flush(sock, false).unwrap();
}

/// A field of `/proc/self/task/<tid>/status`.
fn status(tid: libc::pid_t, field: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap();
    let line = text.lines().find(|l| l.starts_with(field)).unwrap();
    line[field.len()..].trim().to_string()
}

#[test]
fn a_reader_waiting_for_a_frame_sleeps_until_one_comes() {
    let (a, b) = socketpair().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut out = Outgoing::default();
        let mut reader = FrameReader::new();
        // (what the peer reads while this thread waits)
        send(&mut out, b.as_fd(), 1);
        // SAFETY: a plain syscall.
        let tid = unsafe { libc::gettid() };
        let before: u64 = status(tid, "voluntary_ctxt_switches:").parse().unwrap();
        tx.send(tid).unwrap();
        let f = reader.recv(b.as_fd()).unwrap().expect("a frame");
        let after: u64 = status(tid, "voluntary_ctxt_switches:").parse().unwrap();
        (f.id, after - before)
    });
    let tid = rx.recv().unwrap();
    while !status(tid, "State:").starts_with('S') {
        std::thread::yield_now();
    }
    // Reading what the waiting thread sent frees its send buffer space, which wakes a
    // thread asleep in a read of that socket (not one polling it for input).
    let mut mine = FrameReader::new();
    assert_eq!(mine.recv(a.as_fd()).unwrap().expect("a frame").id, 1);
    // (time for such a wake to happen before the frame it waits for comes)
    std::thread::sleep(std::time::Duration::from_millis(50));
    send(&mut Outgoing::default(), a.as_fd(), 2);
    let (id, slept) = reader.join().unwrap();
    assert_eq!(id, 2);
    assert_eq!(slept, 1, "the waiting reader slept more than once");
}

#[test]
fn a_peer_hanging_up_ends_the_wait() {
    let (a, b) = socketpair().unwrap();
    let waiting =
        std::thread::spawn(move || FrameReader::new().recv(b.as_fd()).map(|f| f.is_none()));
    drop(a);
    assert!(waiting.join().unwrap().unwrap(), "a clean end of stream");
    let (a, b) = socketpair().unwrap();
    let waiting = std::thread::spawn(move || FrameReader::new().recv(b.as_fd()).map(|_| ()));
    let mut out = Outgoing::default();
    out.push(RESULT, 1, &[Chunk::Bytes(b"xyz")], &[], 1 << 20)
        .unwrap();
    // (half a frame, then the hang-up)
    let half = out.bytes.len() / 2;
    // SAFETY: `out.bytes` is live for the call.
    let n = unsafe { libc::send(a.as_raw_fd(), out.bytes.as_ptr().cast(), half, 0) };
    assert_eq!(n as usize, half);
    drop(a);
    let err = waiting.join().unwrap().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn frames_sent_ahead_and_frames_waited_for_all_arrive_in_order() {
    let (a, b) = socketpair().unwrap();
    let mut out = Outgoing::default();
    let mut reader = FrameReader::new();
    for round in 0..3u64 {
        // (ahead: read as they come, without a poll; then one the reader waits for)
        for i in 0..100 {
            send(&mut out, a.as_fd(), round * 1000 + i);
        }
        for i in 0..100 {
            let f = reader.recv(b.as_fd()).unwrap().expect("a frame");
            assert_eq!(f.id, round * 1000 + i);
        }
        let late = std::thread::spawn({
            let a = a.try_clone().unwrap();
            move || {
                std::thread::sleep(std::time::Duration::from_millis(20));
                send(&mut Outgoing::default(), a.as_fd(), 999);
            }
        });
        assert_eq!(reader.recv(b.as_fd()).unwrap().expect("a frame").id, 999);
        late.join().unwrap();
    }
}
