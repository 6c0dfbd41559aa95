//! The HTTP layer. It never names a dataset: everything it serves comes from the catalogue.

pub mod app;
pub mod auth;
pub mod cache;
pub mod compat;
pub mod conditional;
pub mod csv_download;
pub mod docs;
pub mod error;
pub mod filters;
pub mod health;
pub mod index;
pub mod json;
pub mod list;
pub mod metrics;
pub mod negotiate;
pub mod openapi;
pub mod overview;
pub mod pipeline;
pub mod public;
pub mod response;
pub mod routes;
