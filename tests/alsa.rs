//! The ALSA adapter without hardware: alsa-lib's `file` plugin (capture from a file,
//! playback into a file) over its `null` plugin, configured by a test asound.conf.

use std::time::{Duration, Instant};

use switchboard::hw::alsa::AudioDevice;

#[test]
fn stereo_device_carries_two_ports_through_alsa_lib() {
    let dir = tempfile::tempdir().unwrap();
    let infile = dir.path().join("in.raw");
    let outfile = dir.path().join("out.raw");
    // 2 s of interleaved stereo capture: left 1000 + n % 100, right -(1000 + n % 100)
    let mut raw = Vec::new();
    for n in 0..16_000i16 {
        raw.extend_from_slice(&(1000 + n % 100).to_le_bytes());
        raw.extend_from_slice(&(-(1000 + n % 100)).to_le_bytes());
    }
    std::fs::write(&infile, raw).unwrap();
    let conf = dir.path().join("asound.conf");
    std::fs::write(
        &conf,
        format!(
            "pcm.sbtest {{ type asym playback.pcm \"sbplay\" capture.pcm \"sbcap\" }}\n\
             pcm.sbplay {{ type file slave.pcm {{ type null }} file \"{}\" format \"raw\" }}\n\
             pcm.sbcap {{ type file slave.pcm {{ type null }} file \"/dev/null\" infile \"{}\" format \"raw\" }}\n",
            outfile.display(),
            infile.display()
        ),
    )
    .unwrap();
    // SAFETY: this test binary has a single test; nothing else reads the environment.
    unsafe { std::env::set_var("ALSA_CONFIG_PATH", &conf) };

    let (dev, ports) = AudioDevice::spawn("sbtest", 2, &[0, 1]).unwrap();
    assert_eq!(ports.len(), 2);
    let t0 = Instant::now();
    let (mut left, mut right) = (0, 0);
    while (left < 20 || right < 20) && t0.elapsed() < Duration::from_secs(20) {
        let _ = ports[0].tx.try_send([111; 160]);
        let _ = ports[1].tx.try_send([222; 160]);
        if let Ok(f) = ports[0].rx.recv_timeout(Duration::from_millis(5)) {
            // de-interleaved: every left sample is positive, from the left pattern
            assert!(
                f.iter().all(|&s| (1000..1100).contains(&s) || s == 0),
                "left {:?}",
                &f[..8]
            );
            if f[0] != 0 {
                left += 1;
            }
        }
        if let Ok(f) = ports[1].rx.recv_timeout(Duration::from_millis(5)) {
            assert!(
                f.iter().all(|&s| (-1099..=-1000).contains(&s) || s == 0),
                "right {:?}",
                &f[..8]
            );
            if f[0] != 0 {
                right += 1;
            }
        }
    }
    assert!(
        left >= 20 && right >= 20,
        "captured frames: left {left}, right {right}"
    );
    let periods = dev.stats.periods.load(std::sync::atomic::Ordering::Relaxed);
    dev.stop();
    assert!(periods > 0);

    // playback went into the file, each port in its own channel
    let out = std::fs::read(&outfile).unwrap();
    let samples: Vec<i16> = out
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert!(!samples.is_empty());
    let l: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let r: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    assert!(l.iter().all(|&s| s == 0 || s == 111));
    assert!(r.iter().all(|&s| s == 0 || s == 222));
    assert!(l.contains(&111) && r.contains(&222));
}

#[test]
fn a_missing_device_is_a_clear_error() {
    let e = AudioDevice::spawn("hw:CARD=NoSuchCard,DEV=0", 1, &[0])
        .err()
        .unwrap();
    let msg = format!("{e:#}");
    assert!(
        msg.contains("cannot open ALSA device `hw:CARD=NoSuchCard,DEV=0`"),
        "{msg}"
    );
}
