//! Wiring: the command line, the engine loop, the service's threads.

pub mod alerts_cli;
pub mod bench_calls;
pub mod bench_scenarios;
pub mod cli;
pub mod dsp_cli;
pub mod engine;
pub mod feeds;
pub mod modem_cli;
pub mod oncall;
pub mod records_cli;
pub mod service;
pub mod web_cli;
pub mod writer;
