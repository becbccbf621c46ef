//! Switchboard: the service of an on-site call-routing appliance.
//!
//! A caller rings a line of the box, hears a greeting and a menu, and is put through
//! to whoever is on call, who must press a key to accept. See ARCHITECTURE.md for the
//! map of modules; the pure, sans-IO core is `dsp`, `at`, `modem`, `line`,
//! `routing`, `call` and `exchange`.

pub mod alerts;
pub mod app;
pub mod at;
pub mod call;
pub mod config;
pub mod country;
pub mod dsp;
pub mod exchange;
pub mod hw;
pub mod line;
pub mod media;
pub mod modem;
pub mod routing;
pub mod scenario;
pub mod store;
pub mod web;
