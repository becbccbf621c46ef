//! Ogg Opus files (RFC 7845) for voicemail: 8 kHz narrowband mono speech, about a
//! tenth of the size of WAV, small enough to send over LTE.
//!
//! Encoding uses libopus through the `opus` crate (20 ms frames, VoIP mode, 16 kbit/s
//! VBR) and the `ogg` crate for the container; [`decode`] reads such a file back (tests,
//! `switchboard voicemail export`).

use std::io::Cursor;

use anyhow::{Context, Result, bail};
use ogg::{PacketReader, PacketWriteEndInfo, PacketWriter};
use opus::{Application, Bitrate, Channels, Decoder, Encoder};

use crate::dsp::{FRAME_SAMPLES, SAMPLE_RATE};

/// Opus granule positions always count 48 kHz samples.
const GRANULE_PER_SAMPLE: u64 = 48_000 / SAMPLE_RATE as u64;
/// Bit rate for narrowband speech.
const BITRATE: i32 = 16_000;
const SERIAL: u32 = 0x5357_4244; // "SWBD"

/// Encodes 8 kHz mono samples as an Ogg Opus file.
pub fn encode(samples: &[i16]) -> Result<Vec<u8>> {
    encode_with(samples, COMPLEXITY)
}

/// Encoder complexity (libopus 0..=10; its default is 10 on this encoder). Measured on
/// 60 s of the prompts' speech (the development VM, system libopus 1.3): complexity 10
/// encodes at ≈ 140× real time, 0 at ≈ 460–630×, with the same size (≈ 1.75 kB/s),
/// the same waveform and segmental SNR (11.3 / 8.7–8.8 dB) and a 2 kHz marker tone
/// within 0.7 dB: for 8 kHz narrowband speech the costly searches of the higher
/// complexities buy nothing measurable, and the box (a Pi) spends a quarter of the
/// CPU on each message. See README, Benchmarks.
pub const COMPLEXITY: i32 = 0;

/// [`encode`] at a given encoder complexity.
pub fn encode_with(samples: &[i16], complexity: i32) -> Result<Vec<u8>> {
    let mut enc = Encoder::new(SAMPLE_RATE, Channels::Mono, Application::Voip)
        .context("cannot create the Opus encoder")?;
    enc.set_complexity(complexity)?;
    enc.set_bitrate(Bitrate::Bits(BITRATE))?;
    enc.set_vbr(true)?;
    // pre-skip is given in 48 kHz samples
    let lookahead = enc.get_lookahead()? as u64;
    let pre_skip = (lookahead * GRANULE_PER_SAMPLE) as u16;

    let mut out = Vec::with_capacity(samples.len() / 8 + 512);
    {
        let mut w = PacketWriter::new(Cursor::new(&mut out));
        let mut head = Vec::with_capacity(19);
        head.extend_from_slice(b"OpusHead");
        head.push(1); // version
        head.push(1); // channels
        head.extend_from_slice(&pre_skip.to_le_bytes());
        head.extend_from_slice(&SAMPLE_RATE.to_le_bytes()); // original input rate
        head.extend_from_slice(&0i16.to_le_bytes()); // output gain
        head.push(0); // mapping family 0: mono/stereo
        w.write_packet(head, SERIAL, PacketWriteEndInfo::EndPage, 0)?;

        let vendor = format!("switchboard {}", env!("CARGO_PKG_VERSION"));
        let mut tags = Vec::new();
        tags.extend_from_slice(b"OpusTags");
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor.as_bytes());
        tags.extend_from_slice(&0u32.to_le_bytes()); // no user comments
        w.write_packet(tags, SERIAL, PacketWriteEndInfo::EndPage, 0)?;

        // Whole 20 ms frames; the last one padded with silence. The granule position of
        // the last page says where the audio really ends (pre-skip + samples).
        // The decoder's output lags by the encoder's lookahead (the pre-skip): encode
        // enough frames to cover it.
        let frames = (samples.len() + lookahead as usize)
            .div_ceil(FRAME_SAMPLES)
            .max(1);
        let end_granule = pre_skip as u64 + samples.len() as u64 * GRANULE_PER_SAMPLE;
        let mut buf = [0u8; 1500];
        for i in 0..frames {
            let mut frame = [0i16; FRAME_SAMPLES];
            let from = i * FRAME_SAMPLES;
            let to = (from + FRAME_SAMPLES).min(samples.len());
            if from < to {
                frame[..to - from].copy_from_slice(&samples[from..to]);
            }
            let n = enc.encode(&frame, &mut buf)?;
            let last = i + 1 == frames;
            let granule = if last {
                end_granule
            } else {
                // every sample decoded so far, pre-skip included (RFC 7845 §4)
                ((i + 1) * FRAME_SAMPLES) as u64 * GRANULE_PER_SAMPLE
            };
            // a page per second keeps pages small and seeking cheap
            let info = if last {
                PacketWriteEndInfo::EndStream
            } else if (i + 1) % 50 == 0 {
                PacketWriteEndInfo::EndPage
            } else {
                PacketWriteEndInfo::NormalPacket
            };
            w.write_packet(buf[..n].to_vec(), SERIAL, info, granule)?;
        }
    }
    Ok(out)
}

/// Decodes an Ogg Opus file written by [`encode`] (or any mono Ogg Opus stream) to
/// 8 kHz samples, with pre-skip removed and the end trimmed to the last granule.
pub fn decode(bytes: &[u8]) -> Result<Vec<i16>> {
    let mut r = PacketReader::new(Cursor::new(bytes));
    let head = r.read_packet()?.context("empty file: no Ogg packet")?;
    if head.data.len() < 19 || &head.data[..8] != b"OpusHead" {
        bail!("not an Ogg Opus file (no OpusHead)");
    }
    let channels = head.data[9];
    if channels != 1 {
        bail!("{channels} channels: voicemail files are mono");
    }
    let pre_skip = u16::from_le_bytes([head.data[10], head.data[11]]) as usize;
    let pre_skip = pre_skip / GRANULE_PER_SAMPLE as usize;
    let _tags = r.read_packet()?.context("no OpusTags packet")?;
    let mut dec = Decoder::new(SAMPLE_RATE, Channels::Mono)?;
    let mut out = Vec::new();
    let mut last_granule = 0u64;
    let mut buf = vec![0i16; 5760];
    while let Some(p) = r.read_packet()? {
        let n = dec.decode(&p.data, &mut buf, false)?;
        out.extend_from_slice(&buf[..n]);
        last_granule = p.absgp_page();
    }
    let total = (last_granule / GRANULE_PER_SAMPLE) as usize;
    out.truncate(total.min(out.len()));
    out.drain(..pre_skip.min(out.len()));
    Ok(out)
}

/// Duration in seconds of an Ogg Opus file, from its last granule position.
pub fn duration_seconds(bytes: &[u8]) -> Result<f64> {
    Ok(decode(bytes)?.len() as f64 / SAMPLE_RATE as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::goertzel::Goertzel;
    use crate::dsp::tone::ToneGen;

    fn level_at(samples: &[i16], hz: f32) -> f32 {
        let mut g = Goertzel::new(hz, SAMPLE_RATE);
        for &s in samples {
            g.push(f32::from(s));
        }
        10.0 * g.power().max(1e-9).log10()
    }

    #[test]
    fn round_trip_keeps_duration_and_a_marker_tone() {
        let mut pcm = vec![0i16; 8000 * 3];
        ToneGen::single(2000.0, -20.0).fill(&mut pcm);
        let ogg = encode(&pcm).unwrap();
        assert!(
            ogg.len() * 8 < pcm.len() * 2,
            "{} bytes of Opus for {} bytes of PCM",
            ogg.len(),
            pcm.len() * 2
        );
        let back = decode(&ogg).unwrap();
        assert_eq!(back.len(), pcm.len());
        // compare the steady part (the codec needs a few ms to settle)
        let a = level_at(&pcm[4000..20000], 2000.0);
        let b = level_at(&back[4000..20000], 2000.0);
        assert!((a - b).abs() < 3.0, "marker level {a:.1} dB → {b:.1} dB");
    }

    /// Speech-like test signal: a 110–150 Hz glottal pulse train through two moving
    /// formants, in 200 ms syllables with pauses between words.
    fn synthetic_speech(seconds: usize) -> Vec<i16> {
        let n = seconds * SAMPLE_RATE as usize;
        let mut out = Vec::with_capacity(n);
        let (mut phase, mut y1, mut y2, mut z1, mut z2) = (0f64, 0f64, 0f64, 0f64, 0f64);
        for i in 0..n {
            let t = i as f64 / f64::from(SAMPLE_RATE);
            let pitch = 130.0 + 20.0 * (t * 2.1).sin();
            phase += pitch / f64::from(SAMPLE_RATE);
            let pulse = if phase >= 1.0 {
                phase -= 1.0;
                1.0
            } else {
                0.0
            };
            // two resonators whose centre frequencies wander like vowels
            let res = |f: f64, bw: f64| {
                let r = (-std::f64::consts::PI * bw / 8000.0).exp();
                (2.0 * r * (std::f64::consts::TAU * f / 8000.0).cos(), -r * r)
            };
            let (a1, a2) = res(500.0 + 250.0 * (t * 3.3).sin(), 80.0);
            let (b1, b2) = res(1500.0 + 600.0 * (t * 2.7).cos(), 120.0);
            let y = pulse + a1 * y1 + a2 * y2;
            (y2, y1) = (y1, y);
            let z = y + b1 * z1 + b2 * z2;
            (z2, z1) = (z1, z);
            let syllable = (t * 5.0).fract();
            let word = (t / 1.6).fract() < 0.8;
            let env = if word {
                (syllable * std::f64::consts::PI).sin()
            } else {
                0.0
            };
            out.push((z * env * 120.0).clamp(-20_000.0, 20_000.0) as i16);
        }
        out
    }

    /// Segmental SNR (dB) of `got` against `want` over 20 ms frames that carry signal.
    fn seg_snr(want: &[i16], got: &[i16]) -> f64 {
        let mut seg = Vec::new();
        for (a, b) in want.chunks(160).zip(got.chunks(160)) {
            let s: f64 = a.iter().map(|&x| f64::from(x).powi(2)).sum();
            let e: f64 = a
                .iter()
                .zip(b)
                .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
                .sum();
            if s > 160.0 * 300.0 * 300.0 {
                seg.push((10.0 * (s / e.max(1.0)).log10()).clamp(-10.0, 35.0));
            }
        }
        seg.iter().sum::<f64>() / seg.len().max(1) as f64
    }

    /// The encoder's complexity was lowered for speed (see [`COMPLEXITY`]); what is
    /// stored must be as good as at libopus's highest: speech as close to the input,
    /// the file no bigger, the marker tone the scenarios check at the same level.
    #[test]
    fn the_chosen_complexity_keeps_the_quality_of_the_highest() {
        let speech = synthetic_speech(8);
        let mut pcm = vec![0i16; 8000 * 3];
        ToneGen::single(2000.0, -20.0).fill(&mut pcm);
        let measure = |c: i32| {
            let ogg = encode_with(&speech, c).unwrap();
            let back = decode(&ogg).unwrap();
            assert_eq!(back.len(), speech.len());
            let tone = decode(&encode_with(&pcm, c).unwrap()).unwrap();
            let marker = level_at(&tone[4000..20000], 2000.0) - level_at(&pcm[4000..20000], 2000.0);
            (seg_snr(&speech, &back), ogg.len(), marker)
        };
        let (snr_hi, size_hi, _) = measure(10);
        let (snr, size, marker) = measure(COMPLEXITY);
        assert!(
            snr_hi > 3.0,
            "the test signal is coded at all: {snr_hi:.2} dB"
        );
        assert!(
            snr > snr_hi - 1.0,
            "segmental SNR {snr:.2} dB at complexity {COMPLEXITY}, {snr_hi:.2} dB at 10"
        );
        assert!(
            size * 100 <= size_hi * 110,
            "{size} bytes at complexity {COMPLEXITY}, {size_hi} at 10"
        );
        assert!(marker.abs() < 1.5, "marker level changed by {marker:.2} dB");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(b"not ogg at all").is_err());
        assert!(decode(&[]).is_err());
    }
}
