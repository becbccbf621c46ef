//! FSK generator: caller ID messages as Bell 202 or V.23 audio.

#[allow(unused_imports)]
use super::*;

/// Parameters of [`modulate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FskGenParams {
    /// Standard (mark and space frequencies).
    pub standard: FskStandard,
    /// Level of the FSK signal, dBm0 (GR-30: −13.5 dBm nominal; ETSI −13.5 dBV).
    pub level_dbm0: f32,
    /// Channel seizure: alternating bits, starting with 0 (Bell 300, ETSI 96–315).
    pub seizure_bits: u32,
    /// Mark bits between seizure and message (Bell 180, ETSI 80 ± 25).
    pub mark_bits: u32,
    /// Extra mark bits between characters of the message (ETSI allows up to 10).
    pub inter_char_mark_bits: u32,
    /// Mark bits after the checksum before the carrier stops.
    pub trailing_mark_bits: u32,
    /// Relative baud-rate error (0.01 = 1 % fast).
    pub baud_error: f64,
    /// Relative frequency error of both tones (0.01 = 1 % high).
    pub freq_error: f64,
    /// Silence before the signal, ms.
    pub lead_ms: u32,
    /// Silence after the signal, ms.
    pub tail_ms: u32,
}

impl FskGenParams {
    /// Nominal parameters of `standard` at −13 dBm0, 100 ms of silence on each side.
    pub fn new(standard: FskStandard) -> Self {
        Self {
            standard,
            level_dbm0: -13.0,
            seizure_bits: 300,
            mark_bits: match standard {
                FskStandard::Bell202 => 180,
                FskStandard::V23 => 80,
            },
            inter_char_mark_bits: 0,
            trailing_mark_bits: 2,
            baud_error: 0.0,
            freq_error: 0.0,
            lead_ms: 100,
            tail_ms: 100,
        }
    }
}

/// Phase-continuous FSK rendering of `message` (a whole frame with checksum, e.g.
/// from [`CallerId::encode_mdmf`]), as `f64` samples (unquantised).
pub fn modulate_f64(message: &[u8], p: &FskGenParams) -> Vec<f64> {
    let fs = f64::from(SAMPLE_RATE);
    let spb = fs / (f64::from(BAUD) * (1.0 + p.baud_error));
    let amp = f64::from(dbm0_to_peak(p.level_dbm0));
    let fm = f64::from(p.standard.mark_hz()) * (1.0 + p.freq_error);
    let fsp = f64::from(p.standard.space_hz()) * (1.0 + p.freq_error);
    let mut bits: Vec<bool> = Vec::new();
    bits.extend((0..p.seizure_bits).map(|i| i % 2 == 1));
    bits.extend((0..p.mark_bits).map(|_| true));
    for (i, &b) in message.iter().enumerate() {
        if i > 0 {
            bits.extend((0..p.inter_char_mark_bits).map(|_| true));
        }
        bits.push(false);
        bits.extend((0..8).map(|k| (b >> k) & 1 == 1));
        bits.push(true);
    }
    bits.extend((0..p.trailing_mark_bits).map(|_| true));
    let lead = crate::dsp::ms_to_samples(p.lead_ms);
    let tail = crate::dsp::ms_to_samples(p.tail_ms);
    let body = (bits.len() as f64 * spb).round() as usize;
    let mut out = vec![0.0; lead + body + tail];
    let mut phase = 0.0f64;
    for (n, o) in out[lead..lead + body].iter_mut().enumerate() {
        let bit = bits[((n as f64 / spb) as usize).min(bits.len() - 1)];
        *o = amp * (core::f64::consts::TAU * phase).sin();
        phase += if bit { fm } else { fsp } / fs;
        phase -= phase.floor();
    }
    out
}

/// [`modulate_f64`] rounded to 16-bit PCM.
pub fn modulate(message: &[u8], p: &FskGenParams) -> Vec<i16> {
    modulate_f64(message, p)
        .into_iter()
        .map(|x| x.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}
