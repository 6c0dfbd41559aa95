//! The integration tests, as one binary: linking one binary instead of one per file saves most
//! of a rebuild, and a custom harness (libtest-mimic, with libtest's output and flags) can report
//! a test that could not run for want of PostgreSQL or Redis as ignored, not passed. Filter by
//! name as usual: `cargo test --test integration qof`.

#[macro_use]
mod common;

mod access_control;
mod api_appointments;
mod api_cloud_telephony;
mod api_contract;
mod api_downloads;
mod api_gp_contract;
mod api_gpps;
mod api_list_sizes;
mod api_nwrs;
mod api_online_consultations;
mod api_organisations;
mod api_overview;
mod api_pagination;
mod api_payments;
mod api_pcn_des;
mod api_qof;
mod api_schema;
mod backends;
mod conditional_requests;
mod database_outage;
mod demo;
mod derived_tables;
mod hostile_corpus;
mod hostile_input;
mod import_runs;
mod metrics;
mod schema_migration;
mod server_limits;
mod shutdown_signal;

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    common::harness::capture_panics();
    // The demo is the longest trial: started first, it runs beside the others.
    let mut trials = demo::trials();
    trials.extend(access_control::trials());
    trials.extend(api_appointments::trials());
    trials.extend(api_contract::trials());
    trials.extend(api_downloads::trials());
    trials.extend(api_gp_contract::trials());
    trials.extend(api_gpps::trials());
    trials.extend(api_list_sizes::trials());
    trials.extend(api_nwrs::trials());
    trials.extend(api_online_consultations::trials());
    trials.extend(api_cloud_telephony::trials());
    trials.extend(api_organisations::trials());
    trials.extend(api_overview::trials());
    trials.extend(api_pagination::trials());
    trials.extend(api_payments::trials());
    trials.extend(api_pcn_des::trials());
    trials.extend(api_qof::trials());
    trials.extend(api_schema::trials());
    trials.extend(backends::trials());
    trials.extend(conditional_requests::trials());
    trials.extend(database_outage::trials());
    trials.extend(derived_tables::trials());
    trials.extend(hostile_corpus::trials());
    trials.extend(hostile_input::trials());
    trials.extend(import_runs::trials());
    trials.extend(metrics::trials());
    trials.extend(schema_migration::trials());
    trials.extend(server_limits::trials());
    #[cfg(unix)]
    trials.extend(shutdown_signal::trials());
    libtest_mimic::run(&args, trials).exit();
}
