//! Wiring: the command line, the engine loop, the service's threads.

pub mod cli;
pub mod engine;
pub mod modem_cli;
pub mod service;
