//! The serial PCM device against a real pseudo-terminal: the test plays the modem on
//! the master side (downlink frames in awkward chunks, reading the uplink), the
//! device's engine end plays the engine. Checks content integrity both ways, the
//! jitter buffer's and the uplink's underrun counting, the idle port, and re-opening a
//! port that vanished and came back behind the same symlink.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::termios;
use switchboard::hw::serial_pcm::{FRAME_BYTES, PcmOptions, PcmPort, SerialPcm, encode_frame};
use switchboard::media::{Frame, SILENCE};

/// Waits for a condition; the limit only guards against a hang, it is not a timing
/// requirement.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "gave up waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn pty() -> (OwnedFd, OwnedFd, String) {
    let p = nix::pty::openpty(None, None).unwrap();
    let path = nix::unistd::ttyname(p.slave.as_fd())
        .unwrap()
        .display()
        .to_string();
    let mut t = termios::tcgetattr(p.slave.as_fd()).unwrap();
    termios::cfmakeraw(&mut t);
    termios::tcsetattr(p.slave.as_fd(), termios::SetArg::TCSANOW, &t).unwrap();
    let fl = OFlag::from_bits_truncate(fcntl(&p.master, FcntlArg::F_GETFL).unwrap());
    fcntl(&p.master, FcntlArg::F_SETFL(fl | OFlag::O_NONBLOCK)).unwrap();
    (p.master, p.slave, path)
}

/// A frame that says which frame it is: direction tag, sequence number, sample index.
fn frame(tag: i16, seq: i16) -> Frame {
    let mut f = SILENCE;
    for (i, s) in f.iter_mut().enumerate() {
        *s = tag * 3000 + seq * 40 + (i as i16 % 37) + 1;
    }
    f
}

fn write_all(fd: &OwnedFd, mut b: &[u8]) {
    while !b.is_empty() {
        match nix::unistd::write(fd, b) {
            Ok(n) => b = &b[n..],
            Err(nix::errno::Errno::EAGAIN) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("write to the pty master: {e}"),
        }
    }
}

/// Reads from the master until `total` bytes have been read in all.
fn read_until(fd: &OwnedFd, acc: &mut Vec<u8>, total: usize) {
    let t0 = Instant::now();
    let mut buf = [0u8; 4096];
    while acc.len() < total {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "uplink bytes missing"
        );
        let mut p = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut p, PollTimeout::from(50u16));
        match nix::unistd::read(fd, &mut buf) {
            Ok(n) => acc.extend_from_slice(&buf[..n]),
            Err(nix::errno::Errno::EAGAIN) => {}
            Err(e) => panic!("read from the pty master: {e}"),
        }
    }
}

fn frames_of(bytes: &[u8]) -> Vec<Frame> {
    bytes
        .chunks_exact(FRAME_BYTES)
        .map(|c| {
            let mut f = SILENCE;
            for (s, b) in f.iter_mut().zip(c.chunks_exact(2)) {
                *s = i16::from_le_bytes([b[0], b[1]]);
            }
            f
        })
        .collect()
}

/// One modem frame in two writes the device must see as separate reads.
fn send_split(master: &OwnedFd, port: &PcmPort, f: &Frame, base: u64, split: usize) {
    let mut b = [0u8; FRAME_BYTES];
    encode_frame(f, &mut b);
    write_all(master, &b[..split]);
    wait_for("first part read", || {
        port.stats().rx_bytes.load(Ordering::Acquire) == base + split as u64
    });
    write_all(master, &b[split..]);
    wait_for("frame read", || {
        port.stats().rx_bytes.load(Ordering::Acquire) == base + FRAME_BYTES as u64
    });
}

#[test]
fn frames_flow_both_ways_through_a_pty_with_underruns_counted_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem-pcm");
    let (master, slave, path) = pty();
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let opts = PcmOptions {
        reopen_first: Duration::from_millis(20),
        reopen_max: Duration::from_millis(100),
        realtime: false,
        // a slow machine must not end the stream between two frames (the stream end
        // has its own test)
        stream_gap: Duration::from_secs(3600),
    };
    let (dev, mut port) = SerialPcm::spawn(link.to_str().unwrap(), opts).unwrap();
    drop(slave);
    assert_eq!(dev.stats.opens.load(Ordering::Relaxed), 1);

    // Idle (no call): silence in, the engine's frames are discarded, nothing counted.
    let mut out = frame(9, 9);
    port.read_frame(&mut out);
    assert_eq!(out, SILENCE);
    for _ in 0..3 {
        port.write_frame(&frame(7, 7));
    }
    wait_for("idle uplink frames discarded", || {
        dev.stats.tx_dropped.load(Ordering::Relaxed) >= 3
    });
    assert!(!port.streaming());

    // A call: 60 frames from the modem, one engine tick per frame.
    const N: i16 = 60;
    let mut played = Vec::new();
    let mut base = 0u64;
    for k in 0..N {
        // every third frame arrives in two reads, split at odd places
        let split = [100, 1, 319][k as usize % 3];
        send_split(&master, &port, &frame(1, k), base, split);
        base += FRAME_BYTES as u64;
        port.read_frame(&mut out);
        played.push(out);
        if k == 30 {
            // the engine's clock runs ahead for two ticks: the second one underruns
            port.read_frame(&mut out);
            played.push(out);
            port.read_frame(&mut out);
            assert_eq!(out, SILENCE);
            played.push(out);
        }
        if !(40..43).contains(&k) {
            port.write_frame(&frame(2, k));
        }
    }
    // Downlink: every frame but the last (still buffered) played once, in order.
    let audio: Vec<Frame> = played.iter().copied().filter(|f| *f != SILENCE).collect();
    let want: Vec<Frame> = (0..N - 1).map(|k| frame(1, k)).collect();
    assert_eq!(audio.len(), want.len());
    assert!(audio == want, "downlink frames reordered or corrupted");
    assert_eq!(port.jitter().underruns, 1);
    assert_eq!(port.jitter().overruns, 0);
    assert_eq!(dev.stats.frames_in.load(Ordering::Relaxed), N as u64);

    // Uplink: one frame per modem frame; silence where the engine had none ready (the
    // first answer, and the three ticks it skipped).
    let mut up = Vec::new();
    read_until(&master, &mut up, N as usize * FRAME_BYTES);
    let up = frames_of(&up);
    assert_eq!(up.len(), N as usize);
    let mut want_up = vec![SILENCE];
    for k in 0..N - 1 {
        if (40..43).contains(&k) {
            continue;
        }
        if k == 43 {
            want_up.extend([SILENCE; 3]);
        }
        want_up.push(frame(2, k));
    }
    assert_eq!(want_up.len(), up.len());
    assert!(up == want_up, "uplink frames reordered or corrupted");
    assert_eq!(dev.stats.tx_underruns.load(Ordering::Relaxed), 4);

    // The port vanishes (the modem resets) and comes back as another pty behind the
    // same symlink: the device opens it again and audio flows.
    drop(master);
    wait_for("loss noticed", || {
        dev.stats.lost.load(Ordering::Relaxed) == 1
    });
    std::fs::remove_file(&link).unwrap();
    let (master2, _slave2, path2) = pty();
    std::os::unix::fs::symlink(&path2, &link).unwrap();
    wait_for("reopened", || dev.stats.opens.load(Ordering::Relaxed) == 2);
    let base = dev.stats.rx_bytes.load(Ordering::Acquire);
    let mut played = Vec::new();
    for k in 0..4 {
        send_split(&master2, &port, &frame(3, k), base + k as u64 * 320, 160);
        port.read_frame(&mut out);
        played.push(out);
    }
    assert_eq!(
        played,
        vec![SILENCE, frame(3, 0), frame(3, 1), frame(3, 2)],
        "audio after the reopen"
    );
    dev.stop();
}

#[test]
fn a_gap_ends_the_stream_and_the_next_one_starts_frame_aligned() {
    let (master, slave, path) = pty();
    let opts = PcmOptions {
        realtime: false,
        ..PcmOptions::default() // the real 200 ms gap
    };
    let (dev, mut port) = SerialPcm::spawn(&path, opts).unwrap();
    drop(slave);
    // frame A, then half of frame B: the call ends mid-frame
    let mut b = [0u8; FRAME_BYTES];
    encode_frame(&frame(4, 1), &mut b);
    write_all(&master, &b);
    encode_frame(&frame(4, 2), &mut b);
    write_all(&master, &b[..FRAME_BYTES / 2]);
    wait_for("bytes read", || {
        dev.stats.rx_bytes.load(Ordering::Acquire) == (FRAME_BYTES + FRAME_BYTES / 2) as u64
    });
    assert!(port.streaming());
    wait_for("stream end", || !port.streaming());
    // the next call: frame C arrives whole and is not glued to B's half
    encode_frame(&frame(4, 3), &mut b);
    write_all(&master, &b);
    wait_for("frame C read", || {
        dev.stats.frames_in.load(Ordering::Relaxed) == 2
    });
    let mut played = Vec::new();
    let mut out = SILENCE;
    for _ in 0..4 {
        port.read_frame(&mut out);
        played.push(out);
    }
    let audio: Vec<Frame> = played.into_iter().filter(|f| *f != SILENCE).collect();
    assert!(
        audio == vec![frame(4, 1), frame(4, 3)],
        "stream not realigned"
    );
    dev.stop();
}

#[test]
fn a_port_missing_at_start_is_opened_when_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem-pcm");
    let opts = PcmOptions {
        reopen_first: Duration::from_millis(10),
        reopen_max: Duration::from_millis(50),
        realtime: false,
        stream_gap: Duration::from_secs(3600),
    };
    // not fatal: the modem may still be booting
    let (dev, mut port) = SerialPcm::spawn(link.to_str().unwrap(), opts).unwrap();
    assert_eq!(dev.stats.opens.load(Ordering::Relaxed), 0);
    let mut out = frame(1, 1);
    port.read_frame(&mut out);
    assert_eq!(out, SILENCE);
    let (master, _slave, path) = pty();
    std::os::unix::fs::symlink(&path, &link).unwrap();
    wait_for("opened", || dev.stats.opens.load(Ordering::Relaxed) == 1);
    for k in 0..3 {
        send_split(&master, &port, &frame(5, k), k as u64 * 320, 7);
    }
    let mut played = Vec::new();
    for _ in 0..3 {
        port.read_frame(&mut out);
        played.push(out);
    }
    assert_eq!(played, vec![frame(5, 0), frame(5, 1), frame(5, 2)]);
    dev.stop();
}
