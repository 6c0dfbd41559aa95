pub mod ods;
pub mod registrations;
