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

/// Sends a frame back for each one received, at once (`delay` zero) or after `delay`,
/// until the stream ends.
fn echo(sock: OwnedFd, delay: std::time::Duration) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = FrameReader::new();
        let mut out = Outgoing::default();
        while let Some(f) = reader.recv(sock.as_fd()).unwrap() {
            std::thread::sleep(delay);
            send(&mut out, sock.as_fd(), f.id);
        }
    })
}

/// Runs `rounds` exchanges with `echo` on this thread; the voluntary context switches
/// (sleeps) this thread made meanwhile.
fn exchanges(sock: BorrowedFd<'_>, reader: &mut FrameReader, rounds: u64) -> u64 {
    let mut out = Outgoing::default();
    // SAFETY: a plain syscall.
    let tid = unsafe { libc::gettid() };
    let sleeps = || -> u64 { status(tid, "voluntary_ctxt_switches:").parse().unwrap() };
    let before = sleeps();
    for i in 0..rounds {
        send(&mut out, sock, i);
        assert_eq!(reader.recv(sock).unwrap().expect("a frame").id, i);
    }
    sleeps() - before
}

#[test]
fn a_reader_whose_peer_answers_at_once_waits_without_sleeping() {
    let (a, b) = socketpair().unwrap();
    let peer = echo(b, std::time::Duration::ZERO);
    let mut reader = FrameReader::new();
    exchanges(a.as_fd(), &mut reader, 20);
    // Each answer comes within microseconds: no sleep (a sleep and a wake on another
    // vCPU cost more than the exchange). Without the spin about half of them sleep; the
    // best of a few batches, for a peer preempted meanwhile on a busy machine.
    let fewest = (0..5)
        .map(|_| exchanges(a.as_fd(), &mut reader, 100))
        .min()
        .unwrap();
    assert!(fewest < 20, "slept {fewest} times in 100 quick exchanges");
    drop(a);
    peer.join().unwrap();
}

#[test]
fn a_reader_whose_peer_answers_slowly_sleeps_without_spinning_first() {
    let (a, b) = socketpair().unwrap();
    let mut reader = FrameReader::new();
    let quick = echo(b, std::time::Duration::ZERO);
    exchanges(a.as_fd(), &mut reader, 50);
    drop(a);
    quick.join().unwrap();
    // The same reader, now answered after 2 ms: the first wait spins for `SPIN` and
    // sleeps; the next ones read once and sleep (spinning, each would read many times).
    let (a, b) = socketpair().unwrap();
    let slow = echo(b, std::time::Duration::from_millis(2));
    exchanges(a.as_fd(), &mut reader, 1);
    let empty = reader.empty_reads;
    let slept = exchanges(a.as_fd(), &mut reader, 20);
    assert!(slept >= 20, "slept {slept} times in 20 slow exchanges");
    assert_eq!(reader.empty_reads - empty, 20, "reads that found nothing");
    drop(a);
    slow.join().unwrap();
}
