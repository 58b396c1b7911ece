//! Writing to InfluxDB 1.x/2.x/3.x and servers that speak the same write APIs
//! (VictoriaMetrics, …).

#[cfg(feature = "http")]
pub(crate) mod client;
pub(crate) mod config;
#[cfg(feature = "http")]
mod refusals;
#[cfg(feature = "http")]
pub mod writer;

pub use config::{Api, InfluxConfig, Secret};
#[cfg(feature = "http")]
pub use writer::InfluxDBWriter;
