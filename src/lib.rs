pub mod catalogue;
pub mod demo;

pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
