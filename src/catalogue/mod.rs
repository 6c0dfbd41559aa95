pub mod ods;
