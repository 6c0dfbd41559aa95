pub mod catalogue;
pub mod import;

pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
