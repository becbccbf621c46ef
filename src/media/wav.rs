//! Streaming WAV input converted to the DSP's 8 kHz mono 16-bit PCM, with bounds.
//!
//! A file is read through hound's sample iterator and handed on in fixed-size blocks:
//! channels are averaged frame by frame and other rates go through a chunked rubato
//! resampler ([`StreamResampler`]), so memory stays constant whatever the file's length.
//! Rates, channel counts and lengths outside sane bounds are refused with a clear error
//! before anything is allocated; a file whose data ends before its header says is
//! decoded as far as it goes ([`StreamStats::truncated`]).

use std::path::Path;

use anyhow::{Context, Result, bail};
use rubato::Resampler;

use crate::dsp::SAMPLE_RATE;

/// Lowest sample rate accepted, Hz (a telephone channel needs at least 8 kHz; 4 kHz
/// still carries the DTMF tones).
pub const MIN_RATE: u32 = 4_000;
/// Highest sample rate accepted, Hz.
pub const MAX_RATE: u32 = 192_000;
/// Most channels accepted.
pub const MAX_CHANNELS: u16 = 8;
/// Longest file accepted, seconds of audio (24 hours).
pub const MAX_SECONDS: u64 = 24 * 3600;
/// Samples (8 kHz) per block handed to the consumer.
pub const BLOCK: usize = 16_384;
/// Input frames per resampler chunk.
const RESAMPLE_CHUNK: usize = 1024;

/// What [`stream_wav_8k_mono`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamStats {
    /// 8 kHz samples delivered.
    pub samples: u64,
    /// Frames the header declares (at the file's rate).
    pub declared_frames: u64,
    /// Frames actually read (at the file's rate).
    pub frames_read: u64,
    /// The data ended before the header's length.
    pub truncated: bool,
}

/// Checks a sample rate against [`MIN_RATE`] … [`MAX_RATE`].
pub fn check_rate(rate: u32) -> Result<()> {
    if !(MIN_RATE..=MAX_RATE).contains(&rate) {
        bail!("sample rate {rate} Hz is outside the supported {MIN_RATE}–{MAX_RATE} Hz");
    }
    Ok(())
}

/// Streaming band-limited rate conversion of mono audio (rubato's FFT resampler, one
/// chunk at a time). The output is the input delayed by nothing: the resampler's own
/// delay is dropped at the start, and [`finish`](Self::finish) flushes the tail so
/// that exactly `⌊n·to/from⌋` samples come out for `n` in.
pub struct StreamResampler {
    r: rubato::FftFixedInOut<f32>,
    input: Vec<f32>,
    output: Vec<Vec<f32>>,
    skip: usize,
    consumed: u64,
    emitted: u64,
    from: u32,
    to: u32,
}

impl StreamResampler {
    /// A converter from `from` Hz to `to` Hz (both within the supported rates).
    pub fn new(from: u32, to: u32) -> Result<Self> {
        check_rate(from)?;
        check_rate(to)?;
        let r = rubato::FftFixedInOut::<f32>::new(from as usize, to as usize, RESAMPLE_CHUNK, 1)
            .context("cannot build the resampler")?;
        let skip = r.output_delay();
        let input = Vec::with_capacity(r.input_frames_max());
        let output = vec![vec![0.0; r.output_frames_max()]];
        Ok(Self {
            r,
            input,
            output,
            skip,
            consumed: 0,
            emitted: 0,
            from,
            to,
        })
    }

    /// Feeds samples; `out` gets the converted samples as they become available.
    pub fn push(&mut self, mut x: &[f32], out: &mut impl FnMut(&[f32])) -> Result<()> {
        self.consumed += x.len() as u64;
        while !x.is_empty() {
            let need = self.r.input_frames_next() - self.input.len();
            let take = need.min(x.len());
            self.input.extend_from_slice(&x[..take]);
            x = &x[take..];
            if self.input.len() == self.r.input_frames_next() {
                self.run(u64::MAX, out)?;
            }
        }
        Ok(())
    }

    /// Flushes the tail (the input is padded with silence).
    pub fn finish(&mut self, out: &mut impl FnMut(&[f32])) -> Result<()> {
        let expected = self.consumed * u64::from(self.to) / u64::from(self.from);
        while self.emitted < expected {
            self.input.resize(self.r.input_frames_next(), 0.0);
            self.run(expected, out)?;
        }
        Ok(())
    }

    fn run(&mut self, limit: u64, out: &mut impl FnMut(&[f32])) -> Result<()> {
        let (_, n) = self
            .r
            .process_into_buffer(&[&self.input], &mut self.output, None)
            .context("resampling failed")?;
        self.input.clear();
        let mut y = &self.output[0][..n];
        let s = self.skip.min(y.len());
        self.skip -= s;
        y = &y[s..];
        let room = usize::try_from(limit - self.emitted).unwrap_or(usize::MAX);
        let y = &y[..y.len().min(room)];
        self.emitted += y.len() as u64;
        if !y.is_empty() {
            out(y);
        }
        Ok(())
    }
}

/// Band-limited resampling of a whole mono signal (the streaming converter over a
/// slice). `from == to` returns the input.
pub fn resample(input: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    if from == to || input.is_empty() {
        return Ok(input.to_vec());
    }
    let mut r = StreamResampler::new(from, to)?;
    let mut out =
        Vec::with_capacity((input.len() as u64 * u64::from(to) / u64::from(from)) as usize);
    let mut sink = |y: &[f32]| out.extend_from_slice(y);
    r.push(input, &mut sink)?;
    r.finish(&mut sink)?;
    Ok(out)
}

/// Collects f32 samples into 8 kHz i16 blocks for the consumer.
struct Blocks<F: FnMut(&[i16])> {
    buf: Box<[i16; BLOCK]>,
    fill: usize,
    samples: u64,
    sink: F,
}

impl<F: FnMut(&[i16])> Blocks<F> {
    fn push_i16(&mut self, v: i16) {
        self.buf[self.fill] = v;
        self.fill += 1;
        if self.fill == BLOCK {
            self.flush();
        }
    }
    fn push_f32(&mut self, x: &[f32]) {
        for &v in x {
            self.push_i16((v * 32768.0).round().clamp(-32768.0, 32767.0) as i16);
        }
    }
    fn flush(&mut self) {
        if self.fill > 0 {
            (self.sink)(&self.buf[..self.fill]);
            self.samples += self.fill as u64;
            self.fill = 0;
        }
    }
}

/// Reads a WAV file as 8 kHz mono 16-bit PCM and hands it to `sink` in blocks of at
/// most [`BLOCK`] samples: other rates are resampled, several channels are averaged,
/// 8/24/32-bit integer and float samples are converted. Memory does not depend on the
/// file's length. Refuses (before reading samples) rates outside [`MIN_RATE`] …
/// [`MAX_RATE`], more than [`MAX_CHANNELS`] channels and files longer than
/// [`MAX_SECONDS`] (by the smaller of the header's length and the file's size).
pub fn stream_wav_8k_mono(path: &Path, sink: impl FnMut(&[i16])) -> Result<StreamStats> {
    let file_len = std::fs::metadata(path)
        .with_context(|| format!("cannot read {} as a WAV file", path.display()))?
        .len();
    let mut reader = hound::WavReader::open(path)
        .with_context(|| format!("cannot read {} as a WAV file", path.display()))?;
    let spec = reader.spec();
    let name = path.display();
    check_rate(spec.sample_rate).with_context(|| format!("{name}"))?;
    if spec.channels == 0 || spec.channels > MAX_CHANNELS {
        bail!(
            "{name}: {} channels; at most {MAX_CHANNELS} are supported",
            spec.channels
        );
    }
    let ch = usize::from(spec.channels);
    let declared_frames = u64::from(reader.duration());
    let frame_bytes = u64::from(spec.bits_per_sample).div_ceil(8) * ch as u64;
    let frames = declared_frames.min(file_len / frame_bytes.max(1));
    let seconds = frames as f64 / f64::from(spec.sample_rate);
    if seconds > MAX_SECONDS as f64 {
        bail!(
            "{name}: {:.1} hours of audio ({frames} frames at {} Hz); at most {} hours are supported",
            seconds / 3600.0,
            spec.sample_rate,
            MAX_SECONDS / 3600
        );
    }
    let mut blocks = Blocks {
        buf: Box::new([0; BLOCK]),
        fill: 0,
        samples: 0,
        sink,
    };
    let mut frames_read = 0u64;
    let mut truncated = false;
    let direct = spec.sample_rate == SAMPLE_RATE
        && ch == 1
        && spec.sample_format == hound::SampleFormat::Int
        && spec.bits_per_sample == 16;
    if direct {
        // 16-bit PCM at 8 kHz: hound has parsed the header and left the reader at the
        // first sample; the data is read in blocks and converted in place.
        let declared_bytes = declared_frames * 2;
        let mut r = reader.into_inner();
        let mut bytes = vec![0u8; 2 * BLOCK];
        let mut left = declared_bytes;
        while left > 0 {
            let want = bytes.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = read_full(&mut r, &mut bytes[..want])
                .with_context(|| format!("{name}: bad sample data"))?;
            let k = n / 2;
            for (d, p) in blocks.buf[..k]
                .iter_mut()
                .zip(bytes[..2 * k].chunks_exact(2))
            {
                *d = i16::from_le_bytes([p[0], p[1]]);
            }
            blocks.fill = k;
            blocks.flush();
            left -= n as u64;
            if n < want {
                truncated = true;
                break;
            }
        }
        frames_read = blocks.samples + blocks.fill as u64;
        blocks.flush();
    } else {
        // A read error: the end of a file shorter than its header says, or a real error.
        let mut stop = |e: hound::Error| -> Result<()> {
            match e {
                // hound reports a short read as `Other` with this message.
                hound::Error::IoError(io)
                    if io.kind() == std::io::ErrorKind::UnexpectedEof
                        || io.to_string().contains("Failed to read enough bytes") =>
                {
                    truncated = true;
                    Ok(())
                }
                e => Err(anyhow::Error::new(e).context(format!("{name}: bad sample data"))),
            }
        };
        let mut rs = if spec.sample_rate == SAMPLE_RATE {
            None
        } else {
            Some(
                StreamResampler::new(spec.sample_rate, SAMPLE_RATE)
                    .with_context(|| format!("{name}"))?,
            )
        };
        let mut mono = Vec::with_capacity(RESAMPLE_CHUNK);
        let emit = |mono: &mut Vec<f32>, rs: &mut Option<StreamResampler>, b: &mut Blocks<_>| {
            let r = match rs {
                Some(r) => r.push(mono, &mut |y| b.push_f32(y)),
                None => {
                    b.push_f32(mono);
                    Ok(())
                }
            };
            mono.clear();
            r
        };
        let scale = match spec.sample_format {
            hound::SampleFormat::Float => 1.0,
            hound::SampleFormat::Int => 1.0 / 2f32.powi(i32::from(spec.bits_per_sample.max(1)) - 1),
        };
        let inv_ch = 1.0 / ch as f32;
        let mut acc = 0.0f32;
        let mut k = 0;
        let mut next = |v: f32, mono: &mut Vec<f32>| -> bool {
            acc += v;
            k += 1;
            if k == ch {
                mono.push(acc * inv_ch);
                acc = 0.0;
                k = 0;
                return mono.len() == RESAMPLE_CHUNK;
            }
            false
        };
        match spec.sample_format {
            hound::SampleFormat::Float => {
                for s in reader.samples::<f32>() {
                    match s {
                        Ok(v) => {
                            if next(v * scale, &mut mono) {
                                frames_read += mono.len() as u64;
                                emit(&mut mono, &mut rs, &mut blocks)?;
                            }
                        }
                        Err(e) => {
                            stop(e)?;
                            break;
                        }
                    }
                }
            }
            hound::SampleFormat::Int => {
                for s in reader.samples::<i32>() {
                    match s {
                        Ok(v) => {
                            if next(v as f32 * scale, &mut mono) {
                                frames_read += mono.len() as u64;
                                emit(&mut mono, &mut rs, &mut blocks)?;
                            }
                        }
                        Err(e) => {
                            stop(e)?;
                            break;
                        }
                    }
                }
            }
        }
        frames_read += mono.len() as u64;
        emit(&mut mono, &mut rs, &mut blocks)?;
        if let Some(r) = &mut rs {
            r.finish(&mut |y| blocks.push_f32(y))?;
        }
        blocks.flush();
    }
    Ok(StreamStats {
        samples: blocks.samples,
        declared_frames,
        frames_read,
        truncated,
    })
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads a whole WAV file as 8 kHz mono 16-bit PCM (see [`stream_wav_8k_mono`]; for
/// benchmarks and tests that need the signal in memory).
pub fn read_wav_8k_mono(path: &Path) -> Result<Vec<i16>> {
    let mut v = Vec::new();
    stream_wav_8k_mono(path, |b| v.extend_from_slice(b))?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, f: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| 0.5 * (core::f32::consts::TAU * f * i as f32 / rate as f32).sin())
            .collect()
    }

    #[test]
    fn streaming_resampler_matches_length_and_keeps_a_tone() {
        for from in [11_025u32, 16_000, 22_050, 44_100, 48_000, 7_999] {
            let x = tone(from, 1000.0, from as usize * 2 + 123);
            let whole = resample(&x, from, 8000).unwrap();
            assert_eq!(whole.len() as u64, x.len() as u64 * 8000 / u64::from(from));
            // Odd-sized pushes give the same samples.
            let mut r = StreamResampler::new(from, 8000).unwrap();
            let mut v = Vec::new();
            for c in x.chunks(777) {
                r.push(c, &mut |y| v.extend_from_slice(y)).unwrap();
            }
            r.finish(&mut |y| v.extend_from_slice(y)).unwrap();
            assert_eq!(v, whole, "{from}");
            let mut g = crate::dsp::goertzel::Goertzel::new(1000.0, 8000);
            for &s in &whole[4000..4800] {
                g.push(s);
            }
            let e: f32 = whole[4000..4800].iter().map(|s| s * s).sum();
            assert!(g.power() > 0.9 * e, "{from}");
        }
    }

    #[test]
    fn rates_out_of_bounds_are_refused() {
        assert!(StreamResampler::new(1, 8000).is_err());
        assert!(StreamResampler::new(8000, 1_000_000).is_err());
        assert!(check_rate(8000).is_ok());
    }
}
