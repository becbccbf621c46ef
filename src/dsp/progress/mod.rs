//! Call-progress tones (dial, ringback, busy, congestion/reorder, SIT) per country and
//! fax calling/answer tones (CNG, CED): the tables, a cadenced generator and a
//! streaming detector with a cadence matcher.
//!
//! # Tables
//!
//! [`COUNTRIES`] holds the tones of `reference/hardware-and-os.md` §1.6 (taken from
//! Asterisk's `indications.conf`) for US, UK, DE, FR, NL and AU: for each [`ToneKind`] a
//! list of [`Segment`]s (frequencies and duration) that repeats. The reference gives no
//! levels; the ones here are the usual network values (US: the precise tone plan;
//! elsewhere −13 dBm0 per component for dial tone, −16 dBm0 for the others). SIT is the
//! ITU generic one (950/1400/1800 Hz × 330 ms, then 1 s of silence, ITU-T E.180); CNG is
//! 1100 Hz 0.5 s on / 3 s off (T.30), CED 2100 Hz for 3.3 s (T.30/V.25, optionally with
//! phase reversals every 450 ms, V.8 ANSam style).
//!
//! # Detector
//!
//! [`ProgressDetector`] cuts the signal into 20 ms ticks. For each tick it measures, with
//! Goertzel filters ([`super::goertzel::Goertzel`], complex output), the power at every
//! frequency of the country's tones, of SIT and of the fax tones, and the AC energy.
//! Call-progress tones are judged on 40 ms windows (the last two ticks combined
//! coherently: bins 25 Hz wide, enough to tell 440+480 from 480+620, or 400 from 400+450),
//! SIT and fax tones on the 20 ms tick. A *signature* (one or two frequencies) is present
//! when every component is above the level threshold, the two components of a dual tone
//! are within the twist limit, and the components carry at least `min_share` of the
//! window's energy (speech, music and noise spread their energy; a tone does not). The
//! best present signature labels the tick; a change of label needs two ticks (so a 20 ms
//! drop-out or blip changes nothing).
//!
//! Runs of equal labels become on/off segments with a duration and, for single-frequency
//! tones, a frequency measured from the phase advance between ticks (accurate to a fraction
//! of a hertz over a burst). Segments of one signature form an *episode*; the cadence
//! matcher compares an episode's segments with every cadenced tone of that signature, at
//! any rotation of the cadence (a recording starts anywhere; the first burst may be cut,
//! so it only has to be shorter than its nominal length), with a relative tolerance plus
//! a fixed slack for the 20 ms resolution. Tones that share a frequency (most of Europe)
//! are told apart by cadence alone; the Australian congestion tone, whose bursts alternate
//! between 425 and 420 Hz with the cadence of the busy tone, by the measured frequency
//! step between bursts. A continuous tone is dial tone (or CED at 2100 Hz) after
//! `continuous_ms`; a regular cadence that matches no table entry, or a continuous tone of
//! a frequency that has only cadenced tones, is reported as [`ToneKind::Unknown`].
//!
//! Everything is computed on fixed-size arrays: no allocation after construction.

use super::goertzel::Goertzel;
use super::level::{dbm0_to_peak, energy_to_dbm0};
use super::tone::ToneGen;
use super::{SAMPLE_RATE, ms_to_samples};

mod detector;
mod generator;
pub use detector::*;
pub use generator::*;

/// Kind of a call-progress or fax tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToneKind {
    /// Dial tone (continuous in all supported countries).
    Dial,
    /// Ringback (audible ringing).
    Ringback,
    /// Busy (subscriber engaged).
    Busy,
    /// Congestion / reorder (network busy, all circuits busy).
    Congestion,
    /// Special information tone: three rising tones (950/1400/1800 Hz family).
    Sit,
    /// Fax calling tone (1100 Hz, 0.5 s on / 3 s off).
    FaxCng,
    /// Fax/modem answer tone CED / ANS (2100 Hz ≥ 2.6 s, with or without phase reversals).
    FaxCed,
    /// A tone at a frequency of the country's table whose cadence matches no entry.
    Unknown,
}

impl ToneKind {
    /// All kinds that can be generated (everything but [`ToneKind::Unknown`]).
    pub const GENERATED: [ToneKind; 7] = [
        ToneKind::Dial,
        ToneKind::Ringback,
        ToneKind::Busy,
        ToneKind::Congestion,
        ToneKind::Sit,
        ToneKind::FaxCng,
        ToneKind::FaxCed,
    ];

    /// Stable name used in the CLI and JSON output: `dial`, `ringback`, `busy`,
    /// `congestion`, `sit`, `fax_cng`, `fax_ced`, `unknown`.
    pub const fn name(self) -> &'static str {
        match self {
            ToneKind::Dial => "dial",
            ToneKind::Ringback => "ringback",
            ToneKind::Busy => "busy",
            ToneKind::Congestion => "congestion",
            ToneKind::Sit => "sit",
            ToneKind::FaxCng => "fax_cng",
            ToneKind::FaxCed => "fax_ced",
            ToneKind::Unknown => "unknown",
        }
    }

    /// Parses a kind name (case-insensitive). Accepts the [`ToneKind::name`]s and the
    /// aliases `reorder`, `ringing`, `cng`, `ced`, `ans`.
    pub fn parse(s: &str) -> Option<ToneKind> {
        Some(match s.to_ascii_lowercase().as_str() {
            "dial" => ToneKind::Dial,
            "ringback" | "ringing" | "ring" => ToneKind::Ringback,
            "busy" => ToneKind::Busy,
            "congestion" | "reorder" => ToneKind::Congestion,
            "sit" => ToneKind::Sit,
            "cng" | "fax_cng" => ToneKind::FaxCng,
            "ced" | "ans" | "fax_ced" => ToneKind::FaxCed,
            "unknown" => ToneKind::Unknown,
            _ => return None,
        })
    }
}

impl core::fmt::Display for ToneKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Frequencies of one segment of a tone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Freqs {
    /// Silence.
    Off,
    /// One sine (Hz).
    Single(f32),
    /// Two sines of equal level (Hz), e.g. 350+440. Also how the reference writes the
    /// "modulated" tones: 400+450 (UK ringback), 413+438 (AU dial: a 425 Hz carrier
    /// beating at 25 Hz).
    Dual(f32, f32),
}

impl Freqs {
    /// The frequencies as a slice-like pair: `(count, [f1, f2])`.
    pub fn list(self) -> (usize, [f32; 2]) {
        match self {
            Freqs::Off => (0, [0.0; 2]),
            Freqs::Single(f) => (1, [f, 0.0]),
            Freqs::Dual(a, b) => (2, [a, b]),
        }
    }
}

/// One segment of a tone's cadence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// What sounds during the segment.
    pub freqs: Freqs,
    /// Duration in ms; 0 means "forever" (a continuous tone has one such segment).
    pub ms: u32,
}

const fn on1(f: f32, ms: u32) -> Segment {
    Segment {
        freqs: Freqs::Single(f),
        ms,
    }
}
const fn on2(a: f32, b: f32, ms: u32) -> Segment {
    Segment {
        freqs: Freqs::Dual(a, b),
        ms,
    }
}
const fn off(ms: u32) -> Segment {
    Segment {
        freqs: Freqs::Off,
        ms,
    }
}

/// A tone: its kind, level and cadence (segments repeated in order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneDef {
    /// What the tone means.
    pub kind: ToneKind,
    /// Level of each component, dBm0.
    pub level_dbm0: f32,
    /// Cadence, repeated; a single segment of `ms == 0` is a continuous tone.
    pub segments: &'static [Segment],
    /// Phase reversal every this many ms while the tone sounds (0: none).
    pub phase_reversal_ms: u32,
}

impl ToneDef {
    /// `true` for a continuous tone (no cadence).
    pub fn is_continuous(&self) -> bool {
        self.segments.iter().any(|s| s.ms == 0)
    }

    /// Length of one cadence cycle in ms (0 for a continuous tone).
    pub fn cycle_ms(&self) -> u32 {
        if self.is_continuous() {
            0
        } else {
            self.segments.iter().map(|s| s.ms).sum()
        }
    }

    /// The cadence in the notation of the reference (Asterisk `indications.conf`):
    /// `480+620/500,0/500`; a continuous tone has no `/ms`.
    pub fn notation(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.segments.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match s.freqs {
                Freqs::Off => out.push('0'),
                Freqs::Single(f) => out.push_str(&format!("{f}")),
                Freqs::Dual(a, b) => out.push_str(&format!("{a}+{b}")),
            }
            if s.ms > 0 {
                out.push_str(&format!("/{}", s.ms));
            }
        }
        out
    }
}

/// A country's call-progress tones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Country {
    /// ISO 3166-1 alpha-2 code as used by the reference (`UK` rather than `GB`).
    pub code: &'static str,
    /// English name.
    pub name: &'static str,
    /// Dial, ringback, busy and congestion tones.
    pub tones: &'static [ToneDef],
}

impl Country {
    /// The tone of `kind` for this country: the country's own table for dial, ringback,
    /// busy and congestion, the international definitions for SIT, CNG and CED. `None`
    /// for [`ToneKind::Unknown`].
    pub fn tone(&self, kind: ToneKind) -> Option<&'static ToneDef> {
        match kind {
            ToneKind::Sit => Some(&SIT),
            ToneKind::FaxCng => Some(&FAX_CNG),
            ToneKind::FaxCed => Some(&FAX_CED),
            ToneKind::Unknown => None,
            k => self.tones.iter().find(|t| t.kind == k),
        }
    }
}

const fn def(kind: ToneKind, level_dbm0: f32, segments: &'static [Segment]) -> ToneDef {
    ToneDef {
        kind,
        level_dbm0,
        segments,
        phase_reversal_ms: 0,
    }
}

use ToneKind::{Busy, Congestion, Dial, Ringback};

/// The supported countries (reference/hardware-and-os.md §1.6).
pub static COUNTRIES: &[Country] = &[
    Country {
        code: "US",
        name: "United States",
        tones: &[
            def(Dial, -13.0, &[on2(350.0, 440.0, 0)]),
            def(Ringback, -19.0, &[on2(440.0, 480.0, 2000), off(4000)]),
            def(Busy, -24.0, &[on2(480.0, 620.0, 500), off(500)]),
            def(Congestion, -24.0, &[on2(480.0, 620.0, 250), off(250)]),
        ],
    },
    Country {
        code: "UK",
        name: "United Kingdom",
        tones: &[
            def(Dial, -13.0, &[on2(350.0, 440.0, 0)]),
            def(
                Ringback,
                -16.0,
                &[
                    on2(400.0, 450.0, 400),
                    off(200),
                    on2(400.0, 450.0, 400),
                    off(2000),
                ],
            ),
            def(Busy, -16.0, &[on1(400.0, 375), off(375)]),
            def(
                Congestion,
                -16.0,
                &[on1(400.0, 400), off(350), on1(400.0, 225), off(525)],
            ),
        ],
    },
    Country {
        code: "DE",
        name: "Germany",
        tones: &[
            def(Dial, -13.0, &[on1(425.0, 0)]),
            def(Ringback, -16.0, &[on1(425.0, 1000), off(4000)]),
            def(Busy, -16.0, &[on1(425.0, 480), off(480)]),
            def(Congestion, -16.0, &[on1(425.0, 240), off(240)]),
        ],
    },
    Country {
        code: "FR",
        name: "France",
        tones: &[
            def(Dial, -13.0, &[on1(440.0, 0)]),
            def(Ringback, -16.0, &[on1(440.0, 1500), off(3500)]),
            def(Busy, -16.0, &[on1(440.0, 500), off(500)]),
            def(Congestion, -16.0, &[on1(440.0, 250), off(250)]),
        ],
    },
    Country {
        code: "NL",
        name: "Netherlands",
        tones: &[
            def(Dial, -13.0, &[on1(425.0, 0)]),
            def(Ringback, -16.0, &[on1(425.0, 1000), off(4000)]),
            def(Busy, -16.0, &[on1(425.0, 500), off(500)]),
            def(Congestion, -16.0, &[on1(425.0, 250), off(250)]),
        ],
    },
    Country {
        code: "AU",
        name: "Australia",
        tones: &[
            def(Dial, -13.0, &[on2(413.0, 438.0, 0)]),
            def(
                Ringback,
                -16.0,
                &[
                    on2(413.0, 438.0, 400),
                    off(200),
                    on2(413.0, 438.0, 400),
                    off(2000),
                ],
            ),
            def(Busy, -16.0, &[on1(425.0, 375), off(375)]),
            def(
                Congestion,
                -16.0,
                &[on1(425.0, 375), off(375), on1(420.0, 375), off(375)],
            ),
        ],
    },
];

/// ITU generic special information tone: 950, 1400, 1800 Hz × 330 ms, then 1 s silence.
pub static SIT: ToneDef = def(
    ToneKind::Sit,
    -20.0,
    &[
        on1(950.0, 330),
        on1(1400.0, 330),
        on1(1800.0, 330),
        off(1000),
    ],
);

/// Fax calling tone (T.30): 1100 Hz, 0.5 s on, 3 s off.
pub static FAX_CNG: ToneDef = def(ToneKind::FaxCng, -13.0, &[on1(1100.0, 500), off(3000)]);

/// Fax answer tone CED (T.30) / ANS (V.25): 2100 Hz for 3.3 s, then 75 ms silence.
pub static FAX_CED: ToneDef = def(ToneKind::FaxCed, -13.0, &[on1(2100.0, 3300), off(75)]);

/// ANS with phase reversals every 450 ms (V.25 echo-canceller disabling, V.8 ANSam
/// without the 15 Hz modulation): detected as [`ToneKind::FaxCed`].
pub static FAX_CED_PR: ToneDef = ToneDef {
    phase_reversal_ms: 450,
    ..FAX_CED
};

/// Error of [`country`]: a code that is not in [`COUNTRIES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCountry {
    /// The code as given.
    pub code: String,
}

impl core::fmt::Display for UnknownCountry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "unknown country code {:?} for call-progress tones: supported are {} \
             (ISO 3166 alpha-2, case-insensitive; GB is accepted for UK)",
            self.code,
            supported_countries()
        )
    }
}

impl std::error::Error for UnknownCountry {}

/// The supported codes, comma separated: `US, UK, DE, FR, NL, AU`.
pub fn supported_countries() -> String {
    COUNTRIES
        .iter()
        .map(|c| c.code)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Looks a country up by ISO code, case-insensitive (`GB` is `UK`).
pub fn country(code: &str) -> Result<&'static Country, UnknownCountry> {
    let c = code.trim();
    let c = if c.eq_ignore_ascii_case("GB") {
        "UK"
    } else {
        c
    };
    COUNTRIES
        .iter()
        .find(|k| k.code.eq_ignore_ascii_case(c))
        .ok_or_else(|| UnknownCountry {
            code: code.to_string(),
        })
}

// ---------------------------------------------------------------------------------------

#[cfg(test)]
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
// tests read the clock once for a start instant
mod tests;
