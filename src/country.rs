//! Country data in one place: what the telephone network of a country looks like to the
//! box — ring cadence, caller ID standard, the international dialling prefix, and its
//! call-progress tone plan (`dsp::progress`). The board profile's `country` selects it;
//! the hardware ringer, the simulated central office and FXO dial-out all read it here.

#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

use std::time::Duration;

use crate::dsp::callerid::FskStandard;
use crate::dsp::progress;

/// Ring cadence (on, off) of a country's central office (and of the box's own ringer).
pub fn ring_cadence(country: &str) -> (Duration, Duration) {
    let ms = |a, b| (Duration::from_millis(a), Duration::from_millis(b));
    match country {
        "UK" | "GB" | "AU" => ms(1200, 2000), // double ring folded into one burst
        "DE" | "NL" | "CH" | "IT" => ms(1000, 4000),
        "FR" => ms(1500, 3500),
        _ => ms(2000, 4000),
    }
}

/// FSK caller ID standard: V.23 (ETSI EN 300 659) in Europe, Bell 202 elsewhere.
pub fn caller_id_standard(country: &str) -> FskStandard {
    match country {
        "UK" | "GB" | "DE" | "NL" | "CH" | "IT" | "FR" | "AT" | "BE" | "ES" | "PT" | "DK"
        | "SE" | "NO" | "FI" | "IE" | "PL" | "CZ" | "GR" => FskStandard::V23,
        _ => FskStandard::Bell202,
    }
}

/// What replaces the `+` of an E.164 number when it is dialled on an analog line:
/// `011` in the North American numbering plan, `0011` in Australia, `00` elsewhere.
pub fn international_prefix(country: &str) -> &'static str {
    match country {
        "US" | "CA" => "011",
        "AU" => "0011",
        _ => "00",
    }
}

/// The digits to dial on an analog line for an E.164 number (`+4930…` → `004930…`);
/// a number without `+` is dialled as written.
pub fn dial_digits(country: &str, number: &str) -> String {
    match number.strip_prefix('+') {
        Some(rest) => format!("{}{rest}", international_prefix(country)),
        None => number.to_string(),
    }
}

/// The call-progress tone plan of a country; the US plan where the country has none
/// (it is the most common one and never confused with speech).
pub fn tone_plan(country: &str) -> &'static progress::Country {
    progress::country(country)
        .or_else(|_| progress::country("US"))
        .unwrap_or_else(|_| unreachable!("the US tone plan is built in"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers_get_the_country_prefix() {
        assert_eq!(dial_digits("US", "+491701111111"), "011491701111111");
        assert_eq!(dial_digits("DE", "+15550001111"), "0015550001111");
        assert_eq!(dial_digits("DE", "110"), "110");
    }

    #[test]
    fn every_country_has_a_tone_plan() {
        assert!(tone_plan("XX").tone(progress::ToneKind::Busy).is_some());
        assert!(tone_plan("DE").tone(progress::ToneKind::Ringback).is_some());
    }
}
